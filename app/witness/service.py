"""The C2SP tlog-witness `add-checkpoint` decision, as a pure function of request and state.

Status codes are the spec's: 404 unknown log, 403 no valid signature by a trusted log
key, 400 a malformed request or an old size past the checkpoint, 409 an old size other
than the recorded one (body: the recorded size, `text/x.tlog.size`), 422 a proof or root
that does not hold, 200 the cosignature line(s).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.witness.state import Latest, WitnessState
from custody.cosigner import Cosigner
from verify.checkpoint import parse_checkpoint_body
from verify.errors import VerificationError
from verify.merkle import EMPTY_ROOT, verify_consistency
from verify.note import NoteVerifier, parse_note, verify_note

MAX_PROOF_LINES = 63
_OLD = re.compile(r"old (0|[1-9][0-9]*)")
TEXT = "text/plain; charset=utf-8"
SIZE = "text/x.tlog.size"


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes = b""
    content_type: str = TEXT


class BadRequest(Exception):
    pass


@dataclass(frozen=True)
class Request:
    old: int
    proof: tuple[bytes, ...]
    checkpoint: bytes


def parse_request(body: bytes) -> Request:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("request is not UTF-8") from exc
    head, sep, checkpoint = text.partition("\n\n")
    if not sep:
        raise BadRequest("no blank line before the checkpoint")
    lines = head.split("\n")
    if not (m := _OLD.fullmatch(lines[0])):
        raise BadRequest("first line is not 'old <size>'")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise BadRequest(f"more than {MAX_PROOF_LINES} proof lines")
    proof: list[bytes] = []
    for line in lines[1:]:
        try:
            h = base64.b64decode(line, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("a proof line is not base64") from exc
        if len(h) != 32 or base64.b64encode(h).decode() != line:
            raise BadRequest("a proof line is not one base64 SHA-256 hash")
        proof.append(h)
    return Request(int(m.group(1)), tuple(proof), checkpoint.encode())


class Witness:
    """Cosigns checkpoints of the logs it knows, each consistent with the last it cosigned."""

    def __init__(
        self, cosigner: Cosigner, logs: Sequence[NoteVerifier], state: WitnessState
    ) -> None:
        self.cosigner = cosigner
        self.state = state
        self.logs: dict[str, list[NoteVerifier]] = {}
        for key in logs:
            self.logs.setdefault(key.name, []).append(key)

    def add_checkpoint(self, body: bytes) -> Answer:
        try:
            req = parse_request(body)
            note = parse_note(req.checkpoint)
            origin = note.text.decode().split("\n", 1)[0]
        except (BadRequest, VerificationError) as exc:
            return Answer(400, f"{exc}\n".encode())
        keys = self.logs.get(origin)
        if keys is None:
            return Answer(404, b"unknown log\n")
        try:
            verify_note(req.checkpoint, keys)
        except VerificationError:
            return Answer(403, b"no valid signature by the log's key\n")
        try:
            cp = parse_checkpoint_body(note.text)
        except VerificationError as exc:
            return Answer(400, f"{exc}\n".encode())
        if req.old > cp.size:
            return Answer(400, b"old size is past the checkpoint\n")
        latest = self.state.latest(origin)
        recorded = latest.size if latest else 0
        if req.old != recorded:
            return Answer(409, f"{recorded}\n".encode(), SIZE)
        if cp.size == 0 and cp.root != EMPTY_ROOT:
            return Answer(422, b"a tree of size 0 has the empty root\n")
        if req.old == 0:
            if req.proof:
                return Answer(422, b"no proof is needed from size 0\n")
        else:
            assert latest is not None
            try:
                verify_consistency(req.old, cp.size, req.proof, latest.root, cp.root)
            except VerificationError as exc:
                return Answer(422, f"{exc}\n".encode())
        line = self.cosigner.cosign(note.text).line()
        cosigned = req.checkpoint + line
        if not self.state.advance(origin, req.old, Latest(cp.size, cp.root, cosigned)):
            now = self.state.latest(origin)
            return Answer(409, f"{now.size if now else 0}\n".encode(), SIZE)
        return Answer(200, line)
