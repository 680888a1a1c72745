"""Every table of the vault, for Alembic: the ledger's and the service's."""

import custody.metadata  # noqa: F401
from app.artifacts import models as _artifacts  # noqa: F401
from app.assets import models as _assets  # noqa: F401
from app.auth import models as _auth  # noqa: F401
from app.auth import web_sessions as _web_sessions  # noqa: F401
from app.cases import models as _cases  # noqa: F401
from app.playbooks import models as _playbooks  # noqa: F401
from app.search import models as _search  # noqa: F401
from app.uploads import models as _uploads  # noqa: F401
