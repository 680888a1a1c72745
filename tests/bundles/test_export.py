"""Export end to end over real HTTP, on SQLite and PostgreSQL: API and CLI, then `locard
verify` offline; the export itself is recorded as custody."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from tests.bundles.conftest import (
    cli,
    client_env,
    export_api,
    members,
    pinned_policy,
    populate,
    trust,
)
from tests.support.live_server import LiveVault
from verify.bundle import verify_bundle


def test_export_via_api_and_cli_then_verify_offline(live: LiveVault, tmp_path: Path) -> None:
    case = populate(live)
    bundle = export_api(live, case.case_id, tmp_path / "api.zip")
    report = verify_bundle(bundle, pinned_policy(live))
    assert report.ok, report.to_json()
    files = members(bundle)
    manifest = json.loads(files["manifest.json"])
    for art, data in case.artifacts.items():
        entry = next(a for a in manifest["artifacts"] if a["id"] == art)
        assert files[entry["file"]] == data
        assert entry["file"].endswith(case.names[art])
    types = [e["type"] for e in manifest["events"]]
    for expected in ("case.created", "ingest", "access", "transfer", "annotation"):
        assert expected in types
    assert {"containment", "hold.set", "export"} <= set(types)
    assert types[-1] == "export"

    # The export is custody: an access (reason "export") per artifact, then the export event.
    with live.client("auditor") as c:
        for art in case.artifacts:
            chain = c.get(f"/v1/artifacts/{art}/custody").json()
            last = chain[-1]["event"]
            assert last["type"] == "access" and last["body"]["reason"] == "export"
            assert last["actor"] == {"id": "auditor", "role": "auditor"}
        export_event = c.get(
            f"/v1/ledger/entries?start={manifest['export_event']}&end="
            f"{manifest['export_event'] + 1}"
        ).json()["entries"][0]["event"]
    assert export_event["type"] == "export" and export_event["body"]["content"] is True
    assert {a["id"] for a in export_event["body"]["artifacts"]} == set(case.artifacts)

    # The CLI: server and token from the environment, as a scheduled job would have them.
    key, root = trust(live, tmp_path)
    env = client_env(live, tmp_path)
    out = tmp_path / "cli.zip"
    r = cli("export", case.case_id, "-o", str(out), env=env)
    assert r.returncode == 0, r.stderr
    assert out.is_file() and not list(tmp_path.glob(".cli.zip.*"))
    assert "export is ledger event" in r.stderr
    r = cli("verify", str(out), "--trusted-key", str(key), "--trusted-tsa-ca", str(root))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "VERIFIED" in r.stdout and "custody chains" in r.stdout
    # The second bundle carries the first export too.
    second = json.loads(members(out)["manifest.json"])
    assert [e["type"] for e in second["events"]].count("export") == 2

    # Never overwritten by accident.
    r = cli("export", case.case_id, "-o", str(out), env=env)
    assert r.returncode == 2 and "exists" in r.stderr


def test_proofs_only_export(live: LiveVault, tmp_path: Path) -> None:
    case = populate(live, big=10_000)
    out = tmp_path / "proofs.zip"
    # Server and token as flags this time.
    r = cli(
        "export",
        case.case_id,
        "--output",
        str(out),
        "--no-content",
        "--server",
        live.url,
        "--token",
        live.tokens["auditor"],
        env={"XDG_CONFIG_HOME": str(tmp_path / "config")},
    )
    assert r.returncode == 0, r.stderr
    with zipfile.ZipFile(out) as zf:
        assert not [n for n in zf.namelist() if n.startswith("artifacts/")]
    report = verify_bundle(out, pinned_policy(live))
    assert report.ok, report.to_json()
    arts = [c for c in report.checks if c.name.startswith("artifact ")]
    assert len(arts) == 3 and all("not included" in c.detail for c in arts)
    # No bytes left the vault, so no access was recorded for this export.
    with live.client("auditor") as c:
        for art in case.artifacts:
            chain = c.get(f"/v1/artifacts/{art}/custody").json()
            assert all(e["event"]["body"].get("reason") != "export" for e in chain)


def test_export_permissions_and_errors(live: LiveVault, tmp_path: Path) -> None:
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Empty", "severity": "P3"})
        case_id = r.json()["case"]["id"]
        assert c.get(f"/v1/cases/{case_id}/bundle").status_code == 403
    with live.client() as c:
        assert c.get(f"/v1/cases/{case_id}/bundle").status_code == 401
    with live.client("auditor") as c:
        r = c.get("/v1/cases/IR-1999-9999/bundle")
        assert r.status_code == 404 and r.json()["error"] == "not_found"
    # A case without artifacts still exports, and verifies.
    bundle = export_api(live, case_id, tmp_path / "empty.zip")
    assert verify_bundle(bundle, pinned_policy(live)).ok
    env = {"LOCARD_SERVER": live.url, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    run = cli("export", case_id, "-o", str(tmp_path / "x.zip"), env=env)
    assert run.returncode == 2 and "token" in run.stderr
    run = cli(
        "export",
        "IR-1999-9999",
        "-o",
        str(tmp_path / "x.zip"),
        env={**env, "LOCARD_TOKEN": live.tokens["auditor"]},
    )
    assert run.returncode == 1 and "404" in run.stderr
    assert not (tmp_path / "x.zip").exists()
