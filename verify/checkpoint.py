"""C2SP tlog-checkpoint bodies (https://c2sp.org/tlog-checkpoint).

A checkpoint body is the text of a signed note:

    <origin>\\n<tree size>\\n<base64 root hash>\\n[<extension line>\\n ...]

Parsing is strict so that one tree head has exactly one encoding: a checkpoint
the log signed cannot be re-encoded into different bytes that still verify.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from verify.errors import CheckpointFormatError

ROOT_SIZE = 32
#: Tree sizes are uint64 in every other implementation; refuse what they cannot read.
MAX_TREE_SIZE = 2**64 - 1

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_CONTROL = re.compile(r"[\x00-\x1f]")


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if not 0 <= self.size <= MAX_TREE_SIZE:
            raise CheckpointFormatError(f"tree size {self.size} is out of range")
        if len(self.root) != ROOT_SIZE:
            raise CheckpointFormatError(
                f"root hash has {len(self.root)} bytes, expected {ROOT_SIZE}"
            )
        for ext in self.extensions:
            _check_line(ext, "extension line")

    def body(self) -> bytes:
        """The note text: origin, size, root and extension lines, each ending in a newline."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        lines.extend(self.extensions)
        return "".join(line + "\n" for line in lines).encode("utf-8")


def parse_checkpoint_body(data: bytes) -> Checkpoint:
    """Parse a checkpoint note text; raises CheckpointFormatError unless it is canonical."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CheckpointFormatError("checkpoint is not valid UTF-8") from exc
    if not text.endswith("\n"):
        raise CheckpointFormatError("checkpoint does not end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointFormatError(
            f"checkpoint has {len(lines)} line(s), needs origin, size and root hash"
        )
    origin, size_line, root_line, *extensions = lines
    return Checkpoint(
        origin=origin,
        size=_parse_size(size_line),
        root=_parse_root(root_line),
        extensions=tuple(extensions),
    )


def _parse_size(line: str) -> int:
    # fullmatch on an ASCII-only class: int() alone would accept "+5", " 5",
    # "0005", "5_000" and non-ASCII digits, each a second spelling of one size.
    if not _DECIMAL.fullmatch(line):
        raise CheckpointFormatError(f"tree size {line!r} is not a canonical decimal number")
    size = int(line)
    if size > MAX_TREE_SIZE:
        raise CheckpointFormatError(f"tree size {line} does not fit in 64 bits")
    return size


def _parse_root(line: str) -> bytes:
    try:
        root = base64.b64decode(line, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointFormatError(f"root hash {line!r} is not valid base64") from exc
    # Decoding ignores non-zero padding bits; re-encoding catches that spelling.
    if base64.b64encode(root).decode("ascii") != line:
        raise CheckpointFormatError(f"root hash {line!r} is not canonical base64")
    if len(root) != ROOT_SIZE:
        raise CheckpointFormatError(f"root hash has {len(root)} bytes, expected {ROOT_SIZE}")
    return root


def _check_line(value: str, what: str) -> None:
    if not value:
        raise CheckpointFormatError(f"{what} is empty")
    if _CONTROL.search(value):
        raise CheckpointFormatError(f"{what} {value!r} contains a newline or control character")
