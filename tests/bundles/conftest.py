"""A populated case on a live vault, and helpers to export, verify and tamper with bundles."""

from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.live_server import LiveVault
from verify.bundle import MANIFEST
from verify.policy import VerificationPolicy

REPO = Path(__file__).resolve().parents[2]
BIG = 3 * 1024 * 1024 + 12345  # a few MiB: several store chunks, still fast


@dataclass
class PopulatedCase:
    case_id: str
    artifacts: dict[str, bytes] = field(default_factory=dict)  # artifact id -> bytes
    names: dict[str, str] = field(default_factory=dict)  # artifact id -> file name


def _upload(live: LiveVault, case_id: str, name: str, data: bytes) -> str:
    with live.client("collector") as c:
        r = c.post(
            f"/v1/cases/{case_id}/artifacts",
            params={"file_name": name, "sha256": hashlib.sha256(data).hexdigest()},
            content=data,
        )
        assert r.status_code == 201, r.text
        return str(r.json()["artifact"]["id"])


def populate(live: LiveVault, *, big: int = BIG) -> PopulatedCase:
    """Artifacts, transfers, downloads, containment, annotation and a legal hold."""
    with live.client("collector") as c:
        r = c.post("/v1/cases", json={"title": "Exfiltration via VPN", "severity": "P2"})
        assert r.status_code == 201, r.text
        case = PopulatedCase(str(r.json()["case"]["id"]))
    files = {
        "disk-fragment.img": os.urandom(big),
        "auth.log": b"Nov 22 03:14:07 vpn sshd[811]: Accepted publickey for root\n" * 200,
        "screenshot.png": b"\x89PNG\r\n\x1a\n" + os.urandom(4000),
    }
    for name, data in files.items():
        art = _upload(live, case.case_id, name, data)
        case.artifacts[art] = data
        case.names[art] = name
    first, second, _ = list(case.artifacts)
    with live.client("collector") as c:
        d = c.get(f"/v1/artifacts/{first}/content", params={"reason": "triage"})
        assert d.status_code == 200 and d.content == case.artifacts[first]
        part = c.get(
            f"/v1/artifacts/{second}/content",
            params={"reason": "header check"},
            headers={"Range": "bytes=0-15"},
        )
        assert part.status_code == 206
        r = c.post(
            f"/v1/cases/{case.case_id}/actions",
            json={
                "action": "isolate_host",
                "target": "vpn-gw-01",
                "outcome": "succeeded",
                "details": "pulled from the network",
            },
        )
        assert r.status_code == 201, r.text
        r = c.post(f"/v1/artifacts/{second}/annotations", json={"text": "root login at 03:14"})
        assert r.status_code == 201, r.text
        r = c.post(f"/v1/cases/{case.case_id}/members", json={"principal": "legal"})
        assert r.status_code == 201, r.text
        r = c.post(f"/v1/artifacts/{first}/transfers", json={"to": "legal", "reason": "review"})
        assert r.status_code == 201, r.text
    with live.client("legal") as c:
        r = c.post(f"/v1/cases/{case.case_id}/hold", json={"on": True, "reason": "litigation"})
        assert r.status_code == 200, r.text
        d = c.get(f"/v1/artifacts/{first}/content", params={"reason": "legal review"})
        assert d.status_code == 200
    return case


def export_api(live: LiveVault, case_id: str, dest: Path, *, content: bool = True) -> Path:
    with (
        live.client("auditor") as c,
        c.stream(
            "GET", f"/v1/cases/{case_id}/bundle", params={"content": str(content).lower()}
        ) as r,
    ):
        assert r.status_code == 200, r.read()
        assert r.headers["content-type"] == "application/zip"
        with dest.open("wb") as fh:
            for chunk in r.iter_bytes():
                fh.write(chunk)
    return dest


def trust(live: LiveVault, where: Path) -> tuple[Path, Path]:
    """The vault's vkey and TSA root as files, as an auditor would have pinned them."""
    key = where / "vault.vkey"
    key.write_text(live.vault.ledger.log_key + "\n")
    root = where / "tsa-root.pem"
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    root.write_bytes(
        x509.load_der_x509_certificate(live.vault.keyring.tsa.root_cert_der).public_bytes(
            Encoding.PEM
        )
    )
    return key, root


def pinned_policy(live: LiveVault) -> VerificationPolicy:
    return VerificationPolicy(
        trusted_log_keys=(live.vault.ledger.log_key,),
        trusted_tsa_roots=(live.vault.keyring.tsa.root_cert_der,),
    )


def client_env(live: LiveVault, home: Path, role: str = "legal") -> dict[str, str]:
    """Server and token from the environment, as a scheduled job would have them."""
    return {
        "LOCARD_SERVER": live.url,
        "LOCARD_TOKEN": live.tokens[role],
        "XDG_CONFIG_HOME": str(home / "config"),
    }


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("LOCARD_")}
    base.update({"COLUMNS": "200", "NO_COLOR": "1"})
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=REPO,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


# -- tampering ------------------------------------------------------------------------------


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist()}


def rewrite(
    src: Path,
    dst: Path,
    edit: Callable[[dict[str, bytes], dict[str, Any]], None],
    *,
    update_digests: bool = True,
) -> Path:
    """Copy a bundle, letting `edit` change members and the manifest (as an attacker would,
    recomputing the manifest's digests unless told not to)."""
    files = members(src)
    manifest = json.loads(files.pop(MANIFEST))
    edit(files, manifest)
    if update_digests:
        manifest["files"] = [
            {"name": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
            for n, d in files.items()
        ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(MANIFEST, json.dumps(manifest))
    dst.write_bytes(buf.getvalue())
    return dst
