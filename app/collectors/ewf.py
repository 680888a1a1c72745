"""EWF (E01) images: the acquisition header and the hashes the imager stored, and the
media streamed through libewf to hash it again.

libewf-python is optional (`locard[ewf]`): without it an E01 upload is refused with
501 rather than stored without its check.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from app.collectors.errors import CorruptContainer, EwfUnavailable

#: the first bytes of an EWF-E01 segment (EVF\t\r\n\xff\0)
EWF_SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
READ = 1 << 20
#: header values kept, under the names libewf gives them
HEADER = (
    "case_number",
    "description",
    "examiner_name",
    "evidence_number",
    "notes",
    "acquiry_date",
    "system_date",
    "acquiry_operating_system",
    "acquiry_software",
    "acquiry_software_version",
    "model",
    "serial_number",
    "device_label",
)


def is_ewf(head: bytes) -> bool:
    return head.startswith(EWF_SIGNATURE)


#: EnCase segment names: NAME.E01 … NAME.E99, then NAME.EAA … NAME.EZZ
_SEGMENT = re.compile(r"^(?P<stem>[^/]+)\.[Ee](?P<n>[0-9]{2}|[A-Za-z]{2})$")


def segment_order(name: str) -> tuple[str, int] | None:
    """(stem, position) of an EnCase segment file name, None for any other name."""
    m = _SEGMENT.match(name)
    if m is None:
        return None
    n = m["n"]
    if n.isdigit():
        pos = int(n)
    else:
        a, b = (ord(c) - ord("A") for c in n.upper())
        pos = 100 + a * 26 + b
    return m["stem"], pos


def is_split_image(names: set[str]) -> bool:
    """A zip of the segments of one split E01 image and nothing else (several segments
    of one stem, at the top of the zip, starting with .E01)."""
    found = [segment_order(n) for n in names]
    if len(found) < 2 or any(f is None for f in found):
        return False
    stems = {f[0] for f in found if f is not None}
    return len(stems) == 1 and 1 in {f[1] for f in found if f is not None}


@dataclass(frozen=True)
class EwfReading:
    header: dict[str, str]
    #: what the imager stored (md5, sha1), lower-case hex
    stored: dict[str, str]
    #: what streaming the media gives now
    computed: dict[str, str]
    media_size: int
    acquired_at: datetime | None


def _pyewf() -> Any:
    try:
        import pyewf
    except ImportError as exc:
        raise EwfUnavailable(
            "this vault cannot read EWF images: install the optional libewf-python "
            "(pip install 'locard[ewf]')"
        ) from exc
    return pyewf


def acquired_at(value: str | None) -> datetime | None:
    """libewf renders the acquisition time (an epoch in the image) with the C library's
    local time, as ctime does: reading it back as this process's local time undoes that."""
    if not value:
        return None
    try:
        t = datetime.strptime(" ".join(value.split()), "%a %b %d %H:%M:%S %Y")
    except ValueError:
        return None
    return t.astimezone().astimezone(UTC)


def read_image(segments: list[Path]) -> EwfReading:
    """`segments`: the image's segment files in order (one for an unsplit image)."""
    pyewf = _pyewf()
    handle = pyewf.handle()
    try:
        handle.open([str(p) for p in segments])
    except OSError as exc:
        raise CorruptContainer(
            f"libewf cannot open the image (a split image's segments are sent together, "
            f"as one zip of NAME.E01, NAME.E02, …): {exc}"
        ) from exc
    try:
        header = {
            k: str(v) for k, v in (handle.get_header_values() or {}).items() if k in HEADER and v
        }
        stored = {
            k.lower(): str(v).lower()
            for k, v in (handle.get_hash_values() or {}).items()
            if k.lower() in ("md5", "sha1") and v
        }
        md5 = hashlib.md5(usedforsecurity=False)
        sha1 = hashlib.sha1(usedforsecurity=False)
        size = 0
        try:
            while block := handle.read(READ):
                md5.update(block)
                sha1.update(block)
                size += len(block)
        except OSError as exc:
            raise CorruptContainer(
                f"libewf cannot read the media (a missing segment of a split image?): {exc}"
            ) from exc
    finally:
        handle.close()
    return EwfReading(
        header=header,
        stored=stored,
        computed={"md5": md5.hexdigest(), "sha1": sha1.hexdigest()},
        media_size=size,
        acquired_at=acquired_at(header.get("acquiry_date")),
    )
