"""Import every table module so SQLModel.metadata is complete (used by Alembic)."""

from custody import models as _custody_models  # noqa: F401
