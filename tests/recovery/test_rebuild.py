"""Disaster recovery: delete the database, rebuild it from the write-once store alone."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, text

from app.audit import audit, rebuild
from app.vault import open_vault
from tests.support.live_server import LiveVault, live_vault, make_settings
from verify.policy import VerificationPolicy
from verify.verifier import Verifier


def populate(live: LiveVault) -> dict[str, object]:
    with live.client("admin") as admin:
        r = admin.post("/v1/principals", json={"name": "carol", "role": "collector"})
        assert r.status_code == 201, r.text
    with live.client("collector") as c:
        case = c.post("/v1/cases", json={"title": "Phishing wave", "severity": "P2"}).json()
        cid = case["case"]["id"]
        c.patch(f"/v1/cases/{cid}", json={"status": "triaged"})
        arts = []
        for i in range(3):
            r = c.post(
                f"/v1/cases/{cid}/artifacts",
                params={"file_name": f"mail-{i}.eml", "source_host": "mx1"},
                content=os.urandom(50_000 + i),
            )
            assert r.status_code == 201, r.text
            arts.append(r.json()["artifact"]["id"])
        c.get(f"/v1/artifacts/{arts[0]}/content", params={"reason": "triage"})
        c.post(f"/v1/cases/{cid}/members", json={"principal": "legal"})
        c.post(f"/v1/artifacts/{arts[1]}/transfers", json={"to": "legal", "reason": "review"})
        c.post(
            f"/v1/cases/{cid}/actions",
            json={"action": "block_ioc", "target": "evil.example", "outcome": "succeeded"},
        )
    with live.client("legal") as lg:
        assert lg.post(
            f"/v1/cases/{cid}/hold", json={"on": True, "reason": "litigation"}
        ).is_success
        cases = lg.get("/v1/cases").json()
        artifacts = lg.get(f"/v1/cases/{cid}/artifacts").json()
        chain = lg.get(f"/v1/artifacts/{arts[1]}/custody").json()
        checkpoint = lg.get("/v1/ledger/checkpoint").json()
    return {"cases": cases, "artifacts": artifacts, "chain": chain, "checkpoint": checkpoint}


def drop_database(db_url: str, data_dir: Path) -> None:
    if db_url.startswith("sqlite"):
        for suffix in ("", "-wal", "-shm"):
            Path(db_url.removeprefix("sqlite:///") + suffix).unlink(missing_ok=True)
        return
    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def test_rebuild_from_store_restores_everything(db_url: str, tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "vault", db_url)
    with live_vault(settings) as live:
        before = populate(live)
        assert audit(live.vault).ok

    drop_database(db_url, settings.data_dir)
    events, report = rebuild(settings)
    assert report.ok, report.to_json()
    assert events == before["checkpoint"]["size"]  # type: ignore[index]

    with live_vault(settings, users=False) as live:
        restored = live.vault.ledger.checkpoint()
        # principals come back from the ledger, without tokens: issue new ones (each a
        # sealed `principal.token_rotated`, so the ledger grows by one)
        live.tokens["legal"] = _reissue(live, "legal")
        with live.client("legal") as lg:
            assert lg.get("/v1/cases").json() == before["cases"]
            cid = before["cases"][0]["id"]  # type: ignore[index]
            assert lg.get(f"/v1/cases/{cid}/artifacts").json() == before["artifacts"]
            chain = lg.get(f"/v1/artifacts/{before['artifacts'][1]['id']}/custody").json()  # type: ignore[index]
            assert chain == before["chain"]
            assert restored.note.decode() == before["checkpoint"]["checkpoint"]  # type: ignore[index]
            cp = lg.get("/v1/ledger/checkpoint").json()
            assert cp["size"] == restored.size + 1
            verifier = Verifier(
                VerificationPolicy(
                    trusted_log_keys=(live.vault.ledger.log_key,),
                    trusted_tsa_roots=(live.vault.keyring.tsa.root_cert_der,),
                )
            )
            for i in range(cp["size"]):
                receipt = lg.get(f"/v1/ledger/receipts/{i}").json()
                assert verifier.verify_receipt(receipt).ok, i
        principals = {p.id for p in _principals(live)}
        assert {"carol"} <= principals


def _principals(live: LiveVault) -> list:  # type: ignore[type-arg]
    from app.auth.service import list_principals

    return list_principals(live.vault.engine)


def _reissue(live: LiveVault, name: str) -> str:
    from app.auth.service import issue_token

    return issue_token(live.vault, name)


def test_rebuild_refuses_a_database_with_data(db_url: str, tmp_path: Path) -> None:
    import pytest

    from custody.rebuild import IndexNotEmpty

    settings = make_settings(tmp_path / "vault", db_url)
    with live_vault(settings) as live:
        populate(live)
    with pytest.raises(IndexNotEmpty):
        rebuild(settings)
    vault = open_vault(settings, start=False)
    try:
        assert audit(vault).ok
    finally:
        vault.close()
