"""The `Range` header of a download (RFC 9110 §14): one `bytes` range or none.

Pure: a header and a size in, a byte range (or "the whole object") out. A range that
covers the whole object is the whole object: it gets the same integrity re-hash as a
plain download, so asking for `bytes=0-` cannot skip that check.
"""

from __future__ import annotations

import re

from app.errors import RangeNotSatisfiable

_SPEC = re.compile(r"^(\d*)-(\d*)$")
#: more digits than any object size: such a position is simply "past the end"
_MAX_DIGITS = 20


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """[start, end) of the bytes asked for, or None for the whole object.

    A unit other than `bytes` is ignored, as RFC 9110 requires; a malformed or
    unsatisfiable `bytes` range is a 416 stating the size.
    """
    if header is None:
        return None
    unit, eq, spec = header.strip().partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    unsatisfiable = {"Content-Range": f"bytes */{size}"}  # RFC 9110 §15.5.17
    m = _SPEC.match(spec.strip())
    if not m or (not m.group(1) and not m.group(2)):
        raise RangeNotSatisfiable(
            "only a single 'bytes=start-end' range is supported", headers=unsatisfiable
        )
    first, last = m.group(1), m.group(2)
    if not first:  # suffix: the last N bytes
        n = _position(last, size)
        if n == 0:
            raise RangeNotSatisfiable("empty suffix range", headers=unsatisfiable)
        start, end = max(0, size - n), size
    else:
        start = _position(first, size)
        end = size if not last else min(_position(last, size) + 1, size)
        if start >= size or end <= start:
            raise RangeNotSatisfiable(
                f"range outside an artifact of {size} bytes", headers=unsatisfiable
            )
    return None if (start, end) == (0, size) else (start, end)


def _position(digits: str, size: int) -> int:
    """A byte position, clamped just past the end: the digits may be too many for int()."""
    stripped = digits.lstrip("0") or "0"
    if len(stripped) > _MAX_DIGITS:
        return size + 1
    return min(int(stripped), size + 1)
