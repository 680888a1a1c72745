"""Three witnesses on loopback and a 2-of-3 policy (the issue's scenario), verified offline
with `locard verify --witness-policy`."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from cli.main import app
from custody import migrations
from custody.db import make_engine
from custody.ledger import EventDraft, Ledger
from custody.witnesses import WitnessClient, WitnessCollector
from storage.local import LocalWormStore
from tests.support.witness_server import RunningWitness, start_witness
from verify.errors import PolicyError, QuorumNotMet
from verify.policy import VerificationPolicy
from verify.verifier import Verifier
from verify.witness_policy import parse_witness_policy


def draft(i: int) -> EventDraft:
    return EventDraft("annotation", "alice", "collector", {"note": f"n{i}"}, "IR-1", "a")


def policy_text(ws: list[RunningWitness], since: int) -> str:
    lines = [f"witness w{i} {w.vkey}" for i, w in enumerate(ws)]
    return "\n".join([*lines, "group all3 2 w0 w1 w2  # 2-of-3", "quorum all3", f"since {since}"])


def verify_cli(tmp_path: Path, ledger: Ledger, receipt: dict[str, object], policy: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    runner = CliRunner()
    return runner.invoke(
        app,
        [
            "verify",
            str(path),
            "--trusted-key",
            ledger.log_key,
            "--witness-policy",
            str(policy),
            "--json",
        ],
    )


def test_three_witnesses_two_of_three(ledger: Ledger, tmp_path: Path) -> None:
    early = ledger.seal([draft(0), draft(1)])[0]  # before witnessing began
    ws = [
        start_witness(tmp_path / f"w{i}", f"witness.test/w{i}", [ledger.log_key]) for i in range(3)
    ]
    try:
        clients = [WitnessClient(w.url, ws_key(w), timeout=2) for w in ws]
        ledger.witnesses = WitnessCollector(ledger.engine, clients, ledger.store)
        policy_file = tmp_path / "policy.txt"
        policy_file.write_text(policy_text(ws, since=ledger.size() + 1))
        policy = parse_witness_policy(policy_file.read_text())
        verifier = Verifier(
            VerificationPolicy(
                trusted_log_keys=(ledger.log_key,), witness_policy=policy, require_timestamp=False
            )
        )

        # History sealed before witnessing: stated, not failed.
        report = verifier.verify_receipt(early.to_json())
        quorum = next(c for c in report.checks if c.name == "witness quorum")
        assert quorum.ok and "unwitnessed before size 3" in quorum.detail

        (witnessed,) = ledger.seal([draft(2)])
        result = verify_cli(tmp_path, ledger, witnessed.to_json(), policy_file)
        doc = json.loads(result.stdout)
        assert result.exit_code in (0, 3), result.stdout  # 3: TSA root not pinned
        checks = {c["name"]: c for c in doc["reports"][0]["checks"]}
        assert checks["witness quorum"]["ok"] and "w0, w1, w2" in checks["witness quorum"]["detail"]

        # A fork signed by the vault's real key: the same log key and origin, another
        # history (a second database). Its checkpoints are valid signed notes that include
        # their events, but every witness refuses them, so they fail the policy.
        fork_engine = make_engine(f"sqlite:///{tmp_path / 'fork.db'}")
        migrations.upgrade(fork_engine)
        fork = Ledger(
            fork_engine,
            ledger.origin,
            ledger.signer,
            [],
            LocalWormStore(tmp_path / "fork"),
            witnesses=WitnessCollector(fork_engine, clients, None),
        )
        forked = fork.seal([draft(10 + i) for i in range(4)])[-1]
        for w in ws:
            r = httpx.post(w.url + "/add-checkpoint", content=b"old 0\n\n" + forked.checkpoint.note)
            assert (r.status_code, r.content) == (409, b"3\n")
            assert r.headers["content-type"] == "text/x.tlog.size"
        assert forked.checkpoint.cosignatures == ()  # the fork's own collector got none either
        report = verifier.verify_receipt(forked.to_json())
        failed = [c for c in report.checks if not c.ok]
        assert [c.name for c in failed] == ["witness quorum"]
        assert isinstance(failed[0].error, QuorumNotMet)
        assert failed[0].error.missing == ("w0", "w1", "w2")
        fork_engine.dispose()

        # One witness down: still a quorum.
        ws[0].stop()
        (one_down,) = ledger.seal([draft(3)])
        report = verifier.verify_receipt(one_down.to_json())
        quorum = next(c for c in report.checks if c.name == "witness quorum")
        assert quorum.ok and "w1, w2" in quorum.detail

        # All down: the seal stands, cosignatures pending; verification says who is missing.
        for w in ws[1:]:
            w.stop()
        (all_down,) = ledger.seal([draft(4)])
        result = verify_cli(tmp_path, ledger, all_down.to_json(), policy_file)
        assert result.exit_code == 1
        checks = {c["name"]: c for c in json.loads(result.stdout)["reports"][0]["checks"]}
        assert not checks["witness quorum"]["ok"]
        assert "missing w0, w1, w2" in checks["witness quorum"]["detail"]

        # Not lost: the witnesses come back and the latest checkpoint is cosigned.
        ports = [int(w.url.rsplit(":", 1)[1]) for w in ws]
        ws = [
            start_witness(tmp_path / f"w{i}", f"witness.test/w{i}", [ledger.log_key], port=p)
            for i, p in enumerate(ports)
        ]
        assert ledger.retry_cosignatures() == 3
        report = verifier.verify_receipt(ledger.receipt(all_down.event.index).to_json())
        assert report.ok, report
    finally:
        for w in ws:
            if w.thread.is_alive():
                w.stop()


def ws_key(w: RunningWitness):  # type: ignore[no-untyped-def]
    from verify.cosignature import CosignatureVerifier

    return CosignatureVerifier.from_vkey(w.vkey)


def test_policy_file_errors() -> None:
    for bad in [
        "",
        "quorum nobody",
        "witness a x+00000000+AAAA\nquorum a",
        "group g 2 a b\nquorum g",
    ]:
        with pytest.raises(PolicyError):
            parse_witness_policy(bad)
