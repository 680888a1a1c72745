"""What a newcomer meets in the first hour, beyond the README walkthroughs: an OpenAPI
schema that declares the bearer scheme (so /docs has an Authorize button), a Dockerfile
whose non-root user owns /data and which says how to check health, and CLI output that
survives a pipe."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx

from custody.keyring import Keyring
from tests.support.live_server import LiveVault
from verify.policy import pinned_verifier

ROOT = Path(__file__).resolve().parents[2]


def test_openapi_declares_the_bearer_scheme_on_exactly_the_authenticated_operations(
    live_sqlite: LiveVault,
) -> None:
    schema = httpx.get(f"{live_sqlite.url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": schema["components"]["securitySchemes"]["bearer"]["description"],
    }
    ops = {
        (path, method): op
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in ("get", "post", "patch", "delete", "head", "put")
    }
    assert ops[("/v1/cases", "post")]["security"] == [{"bearer": []}]
    assert ops[("/v1/uploads/{upload_id}", "patch")]["security"] == [{"bearer": []}]
    for public in (("/v1/keys", "get"), ("/healthz", "get")):
        assert "security" not in ops[public]
    # The schema agrees with the server: an operation without a token is refused (401)
    # exactly when it declares the scheme. Probed with GETs that need no body.
    with httpx.Client(base_url=live_sqlite.url) as c:
        for (path, method), op in ops.items():
            if method != "get" or "{" in path:
                continue
            refused = c.get(path).status_code == 401
            assert refused == ("security" in op), path


def test_docs_page_is_served(live_sqlite: LiveVault) -> None:
    r = httpx.get(f"{live_sqlite.url}/docs")
    assert r.status_code == 200 and "/openapi.json" in r.text


def _dockerfile() -> list[str]:
    """Instructions, continuation lines joined, comments dropped."""
    text = (ROOT / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    return [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]


def test_dockerfile_makes_data_for_its_non_root_user_before_the_volume() -> None:
    lines = _dockerfile()
    user = next(i for i, ln in enumerate(lines) if ln.startswith("USER "))
    name = lines[user].split()[1]
    volume = next(i for i, ln in enumerate(lines) if ln.startswith("VOLUME "))
    made = [
        i
        for i, ln in enumerate(lines)
        if ln.startswith("RUN ") and "mkdir" in ln and "/data" in ln and f"chown {name}" in ln
    ]
    # run as root (before USER), and before VOLUME, which freezes the directory's owner
    assert made and made[0] < user < volume and name != "root"
    assert any(ln == "ENV LOCARD_DATA_DIR=/data" or "LOCARD_DATA_DIR=/data " in ln for ln in lines)


def test_dockerfile_has_a_healthcheck_on_healthz() -> None:
    [check] = [ln for ln in _dockerfile() if ln.startswith("HEALTHCHECK ")]
    assert "CMD" in check and "/healthz" in check
    assert "curl" not in check  # the slim image has none; it uses Python
    exposed = [ln.split()[1] for ln in _dockerfile() if ln.startswith("EXPOSE ")]
    assert exposed == ["8700"] and "8700" in check


def test_healthcheck_command_runs_against_a_live_vault(live_sqlite: LiveVault) -> None:
    """The HEALTHCHECK's own command, run here against a vault on another port."""
    [check] = [ln for ln in _dockerfile() if ln.startswith("HEALTHCHECK ")]
    argv = json.loads(check.split("CMD", 1)[1].strip())  # the exec form is a JSON list
    assert argv[0] == "python"
    port = live_sqlite.url.rsplit(":", 1)[1]
    ok = subprocess.run([sys.executable, *argv[1:]], env={"LOCARD_PORT": port}, timeout=60)
    assert ok.returncode == 0
    down = subprocess.run(
        [sys.executable, *argv[1:]], env={"LOCARD_PORT": "1"}, capture_output=True, timeout=60
    )
    assert down.returncode != 0


def test_init_prints_the_log_key_on_one_line_when_piped(tmp_path: Path) -> None:
    data = tmp_path / "a-rather-long-directory-name-so-that-paths-pass-eighty-columns" / "vault"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli.main",
            "init",
            "--data-dir",
            str(data),
            "--origin",
            "vault.incident-response.example.org/locard/ledger",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "80", "TERM": "dumb"},
    )
    assert run.returncode == 0, run.stderr
    [line] = [ln for ln in run.stdout.splitlines() if ln.strip().startswith("log key:")]
    printed = line.split("log key:", 1)[1].strip()
    assert printed == Keyring.load(data / "keys").signer.vkey()
    pinned_verifier(printed, "init's output")  # the whole key, as auditors would paste it
    [root] = [ln for ln in run.stdout.splitlines() if "TSA root:" in ln]
    assert str(data / "keys" / "tsa" / "tsa-root.pem") in root
    keys = subprocess.run(
        [sys.executable, "-m", "cli.main", "keys", "--data-dir", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "40"},
    )
    assert keys.stdout == printed + "\n"
