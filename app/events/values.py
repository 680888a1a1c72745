"""Values as event bodies hold them: JSON has no datetimes or enums."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def event_value(value: Any) -> Any:
    """ISO 8601 UTC for times, an enum's value for enums, anything else as it is."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    return getattr(value, "value", value)
