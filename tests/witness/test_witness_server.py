"""`locard witness-server` speaks C2SP tlog-witness: status codes, CAS state, cosignatures."""

from __future__ import annotations

import base64
import hashlib
import threading
from pathlib import Path

import httpx
import pytest

from app.witness.service import Witness
from app.witness.state import Latest, WitnessState
from custody.cosigner import Cosigner
from custody.ledger import EventDraft, Ledger
from custody.signing import NoteSigner
from tests.support.witness_server import running_witness
from verify.checkpoint import Checkpoint
from verify.cosignature import CosignatureVerifier, cosigned_message, verified_cosignatures
from verify.errors import MalformedInput, SignatureError
from verify.note import NoteVerifier, verify_note


def draft(i: int) -> EventDraft:
    return EventDraft("annotation", "alice", "collector", {"note": f"n{i}"}, "IR-1", "a")


def body(old: int, proof: list[bytes], note: bytes) -> bytes:
    lines = [f"old {old}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n").encode() + note


def post(http: httpx.Client, data: bytes) -> httpx.Response:
    return http.post("/add-checkpoint", content=data)


def test_add_checkpoint_status_codes_and_cosignatures(ledger: Ledger, tmp_path: Path) -> None:
    ledger.seal([draft(i) for i in range(3)])
    first = ledger.checkpoint()
    with (
        running_witness(tmp_path / "w1", "witness.test/w1", [ledger.log_key]) as w,
        httpx.Client(base_url=w.url) as http,
    ):
        r = post(http, body(0, [], first.note))
        assert r.status_code == 200, r.text
        assert r.text.startswith("\u2014 witness.test/w1 ") and r.text.endswith("\n")
        witness_key = CosignatureVerifier.from_vkey(w.vkey)
        (cosig,) = verified_cosignatures(first.note + r.content, [witness_key])
        assert cosig.name == "witness.test/w1" and cosig.timestamp > 1_700_000_000
        # The key ID is SHA-256(name || 0x0A || 0x04 || key)[:4], per tlog-cosignature.
        raw = base64.b64decode(w.vkey.split("+", 2)[2])
        assert raw[0] == 0x04
        want_id = hashlib.sha256(b"witness.test/w1\n\x04" + raw[1:]).digest()[:4]
        assert cosig.key_id == want_id
        # A note verifier that knows both keys accepts the log's signature and the witness's.
        both = verify_note(first.note + r.content, [ledger.signer.verifier(), witness_key])
        assert len(both.signatures) == 2
        sig = base64.b64decode(r.text.split(" ")[2])
        witness_key.public_key.verify(sig[12:], cosigned_message(both.text, cosig.timestamp))

        # Stale old size: 409 with the recorded size, as text/x.tlog.size.
        ledger.seal([draft(i) for i in range(5)])
        second = ledger.checkpoint()
        r = post(http, body(0, [], second.note))
        assert r.status_code == 409
        assert r.headers["content-type"] == "text/x.tlog.size"
        assert r.content == b"3\n"
        # The right old size and proof: 200.
        proof = ledger.consistency(3, second.size)
        assert post(http, body(3, proof, second.note)).status_code == 200
        # Resubmitting the same checkpoint at its own size: 200, same root required.
        assert post(http, body(8, [], second.note)).status_code == 200

        # A fork signed by the log's real key: a different root at a larger size.
        fork = ledger.signer.sign_note(Checkpoint(ledger.origin, 9, b"\x07" * 32).body())
        assert post(http, body(8, [], fork)).status_code == 422  # proof does not hold
        assert post(http, body(8, proof, fork)).status_code == 422
        r = post(http, body(0, [], fork))
        assert (r.status_code, r.content) == (409, b"8\n")
        same_size = ledger.signer.sign_note(Checkpoint(ledger.origin, 8, b"\x07" * 32).body())
        assert post(http, body(8, [], same_size)).status_code == 422

        # Unknown log 404; untrusted or broken signature 403.
        stranger = NoteSigner.generate("other.example/log")
        other = stranger.sign_note(Checkpoint("other.example/log", 1, b"\x01" * 32).body())
        assert post(http, body(0, [], other)).status_code == 404
        impostor = NoteSigner.generate(ledger.origin)
        assert (
            post(
                http, body(8, [], impostor.sign_note(second.note.split(b"\n\n")[0] + b"\n"))
            ).status_code
            == 403
        )
        broken = bytearray(second.note)
        broken[-5] = ord("A") if broken[-5] != ord("A") else ord("B")
        assert post(http, body(8, [], bytes(broken))).status_code == 403

        # Malformed requests and an old size past the checkpoint: 400.
        assert post(http, body(9, [], second.note)).status_code == 400
        assert post(http, b"old 8\n" + second.note).status_code == 400
        assert post(http, body(8, [b"\x00" * 32] * 64, second.note)).status_code == 400
        assert post(http, b"old 08\n\n" + second.note).status_code == 400
        # Size 0 must carry the empty root.
        empty = ledger.signer.sign_note(Checkpoint(ledger.origin, 0, b"\x01" * 32).body())
        state2 = WitnessState(tmp_path / "fresh.db")
        fresh = Witness(
            Cosigner(NoteSigner.generate("w.test/x")), [ledger.signer.verifier()], state2
        )
        assert fresh.add_checkpoint(body(0, [], empty)).status == 422

        # The monitoring view: the last cosigned checkpoint, both signatures on it.
        r = http.get(f"/{hashlib.sha256(ledger.origin.encode()).hexdigest()}/checkpoint")
        assert r.status_code == 200
        assert len(verify_note(r.content, [ledger.signer.verifier(), witness_key]).signatures) == 2
        assert http.get(f"/{'0' * 64}/checkpoint").status_code == 404

    # The state survives a restart: the witness still remembers size 8.
    with (
        running_witness(tmp_path / "w1", "witness.test/w1", [ledger.log_key]) as w,
        httpx.Client(base_url=w.url) as http,
    ):
        r = post(http, body(0, [], first.note))
        assert (r.status_code, r.content) == (409, b"8\n")


def test_compare_and_swap_never_rolls_back(tmp_path: Path) -> None:
    state = WitnessState(tmp_path / "s.db")
    a, b = Latest(5, b"a" * 32, b"n5"), Latest(7, b"b" * 32, b"n7")
    assert state.advance("log", 0, a)
    assert not state.advance("log", 0, b)  # someone else recorded first
    assert state.advance("log", 5, b)
    assert not state.advance("log", 5, a)  # request A, checked before B, arrives late
    assert state.latest("log") == b


def test_racing_requests_get_one_cosignature(ledger: Ledger, tmp_path: Path) -> None:
    ledger.seal([draft(0)])
    witness = Witness(
        Cosigner(NoteSigner.generate("w.test/race")),
        [ledger.signer.verifier()],
        WitnessState(tmp_path / "race.db"),
    )
    assert witness.add_checkpoint(body(0, [], ledger.checkpoint().note)).status == 200
    notes = []
    for _ in range(6):
        ledger.seal([draft(1)])
        notes.append((ledger.checkpoint().note, ledger.consistency(1, ledger.size())))
    statuses: list[int] = []
    start = threading.Barrier(len(notes))

    def submit(note: bytes, proof: list[bytes]) -> None:
        start.wait()
        statuses.append(witness.add_checkpoint(body(1, proof, note)).status)

    threads = [threading.Thread(target=submit, args=n) for n in notes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200] + [409] * 5


def test_cosignature_verifier_refuses_log_keys_and_bad_lines(ledger: Ledger) -> None:
    with pytest.raises(MalformedInput):
        CosignatureVerifier.from_vkey(ledger.log_key)  # type 0x01 is a log key
    with pytest.raises(MalformedInput):
        NoteVerifier.from_vkey(Cosigner(NoteSigner.generate("w.test/k")).vkey())
    ledger.seal([draft(0)])
    cosigner = Cosigner(NoteSigner.generate("w.test/k"))
    note = ledger.checkpoint().note
    line = cosigner.cosign(note.split(b"\n\n")[0] + b"\n").line()
    assert verified_cosignatures(note + line, [cosigner.verifier])
    assert verified_cosignatures(note, [cosigner.verifier]) == []
    tampered = line[:-6] + (b"AAAA" if line[-6:-2] != b"AAAA" else b"BBBB") + line[-2:]
    with pytest.raises(SignatureError):
        verified_cosignatures(note + tampered, [cosigner.verifier])
