"""The offline verifier against hostile zips: bombs, oversized members, names off the layout.

Built on the committed v1 bundle (tests/fixtures/formats_v1), rewritten as an attacker would
(recomputing the manifest's digests), so each hostile change is the only thing wrong. Memory
is measured as the peak RSS of a `locard verify` subprocess, against a baseline run of the
same command on the genuine bundle.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from verify.bundle import MANIFEST, MAX_MANIFEST_BYTES, event_member, verify_bundle
from verify.errors import BundleMemberError, MemberTooLarge
from verify.policy import VerificationPolicy
from verify.timestamp import load_pem_or_der_certs

REPO = Path(__file__).resolve().parents[2]
V1 = REPO / "tests" / "fixtures" / "formats_v1"
PINS = ("--trusted-key", str(V1 / "vault.vkey"), "--trusted-tsa-ca", str(V1 / "tsa-root.pem"))
POLICY = VerificationPolicy(
    trusted_log_keys=((V1 / "vault.vkey").read_text().strip(),),
    trusted_tsa_roots=tuple(load_pem_or_der_certs((V1 / "tsa-root.pem").read_bytes())),
)
MIB = 1024 * 1024
#: What a bounded verifier may use beyond the genuine run: the issue saw 2.7 GB for 100 MB.
HEADROOM_KIB = 64 * 1024

# Peak RSS of one child, measured by a fresh parent so no earlier child counts.
_MEASURE = """
import resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(f"{done.returncode} {peak}")
sys.stdout.write(done.stdout)
"""


def _verify_rss(bundle: Path) -> tuple[int, int, str]:
    """(exit status, peak RSS in KiB, stdout) of `locard verify BUNDLE --json` with pins."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOCARD_")}
    command = [sys.executable, "-m", "cli.main", "verify", str(bundle), "--json", *PINS]
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE, *command],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    head, _, out = done.stdout.partition("\n")
    code, peak = (int(x) for x in head.split())
    return code, peak, out


def _rewrite(
    dst: Path,
    edit: Callable[[dict[str, bytes], dict[str, Any]], None],
    *,
    manifest: bytes | None = None,
) -> Path:
    """The v1 bundle with `edit` applied, digests recomputed, members deflated."""
    with zipfile.ZipFile(V1 / "bundle.zip") as zf:
        files = {i.filename: zf.read(i) for i in zf.infolist()}
    doc = json.loads(files.pop(MANIFEST))
    edit(files, doc)
    doc["files"] = [
        {"name": n, "sha256": hashlib.sha256(d).hexdigest(), "size": len(d)}
        for n, d in files.items()
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(MANIFEST, manifest if manifest is not None else json.dumps(doc).encode())
    dst.write_bytes(buf.getvalue())
    return dst


def _bomb_manifest(size: int) -> bytes:
    """A manifest of `size` bytes that is valid JSON all the way: the costliest to parse."""
    head = b'{"format":"locard-bundle/1","events":['
    n = (size - len(head) - 2) // 3
    return head + b",".join([b"{}"] * n) + b"]}"


def _first_failure(bundle: Path) -> Any:
    report = verify_bundle(bundle, POLICY)
    failed = report.first_failure
    assert failed is not None, report.to_json()
    return failed


def test_manifest_bomb_is_refused_unread_in_bounded_memory(tmp_path: Path) -> None:
    """The reproduction: ~100 KB of zip whose manifest inflates to 100 MB."""
    bomb = _rewrite(tmp_path / "bomb.zip", lambda f, m: None, manifest=_bomb_manifest(100 * MIB))
    assert bomb.stat().st_size < 500 * 1024
    failed = _first_failure(bomb)
    assert isinstance(failed.error, MemberTooLarge) and failed.error.subject == MANIFEST
    assert failed.name == "manifest" and failed.check == "member-size"

    code, genuine_kib, out = _verify_rss(V1 / "bundle.zip")
    assert code == 0, out
    code, bomb_kib, out = _verify_rss(bomb)
    assert code == 1, out
    doc = json.loads(out)
    (check,) = [c for c in doc["reports"][0]["checks"] if not c["ok"]]
    assert check["error"] == "MemberTooLarge"
    assert bomb_kib < genuine_kib + HEADROOM_KIB, (bomb_kib, genuine_kib)


def test_manifest_whose_header_understates_its_size_is_still_bounded(tmp_path: Path) -> None:
    """A zip header may lie about the size; reading stops at the cap regardless."""
    bomb = _rewrite(tmp_path / "liar.zip", lambda f, m: None, manifest=_bomb_manifest(100 * MIB))
    data = bytearray(bomb.read_bytes())
    with zipfile.ZipFile(bomb) as zf:
        info = zf.getinfo(MANIFEST)
    # Patch the uncompressed size in the local header and the central directory entry.
    struct.pack_into("<I", data, info.header_offset + 22, 1000)
    central = data.rfind(b"PK\x01\x02", 0, data.rfind(b"PK\x05\x06"))
    while data[central + 46 : central + 46 + len(MANIFEST)] != MANIFEST.encode():
        central = data.rfind(b"PK\x01\x02", 0, central)
    struct.pack_into("<I", data, central + 24, 1000)
    bomb.write_bytes(bytes(data))
    failed = _first_failure(bomb)
    assert isinstance(failed.error, BundleMemberError) and failed.error.subject == MANIFEST
    code, kib, out = _verify_rss(bomb)
    assert code == 1, out
    _, genuine_kib, _ = _verify_rss(V1 / "bundle.zip")
    assert kib < genuine_kib + HEADROOM_KIB, (kib, genuine_kib)


def test_manifest_just_over_the_cap_is_refused(tmp_path: Path) -> None:
    bomb = _rewrite(
        tmp_path / "big.zip", lambda f, m: None, manifest=_bomb_manifest(MAX_MANIFEST_BYTES + 3)
    )
    assert isinstance(_first_failure(bomb).error, MemberTooLarge)


def test_event_member_bomb_is_refused_naming_it(tmp_path: Path) -> None:
    def edit(files: dict[str, bytes], _: dict[str, Any]) -> None:
        files[event_member(3)] = b" " * (50 * MIB)

    failed = _first_failure(_rewrite(tmp_path / "event-bomb.zip", edit))
    assert isinstance(failed.error, MemberTooLarge)
    assert failed.error.subject == event_member(3)


@pytest.mark.parametrize("member", ["proofs/2.json", "checkpoints/1.note", "keys/log.vkey"])
def test_small_members_have_small_limits(tmp_path: Path, member: str) -> None:
    def edit(files: dict[str, bytes], _: dict[str, Any]) -> None:
        files[member] = files[member] + b" " * MIB

    failed = _first_failure(_rewrite(tmp_path / "fat.zip", edit))
    assert isinstance(failed.error, MemberTooLarge) and failed.error.subject == member


def _rename(files: dict[str, bytes], old: str, new: str) -> None:
    files[new] = files.pop(old)


def test_member_names_must_match_the_layout(tmp_path: Path) -> None:
    def tsa_root(files: dict[str, bytes], m: dict[str, Any]) -> None:
        _rename(files, m["tsas"][0]["root"], "keys/tsa/../../evil-root.pem")
        m["tsas"][0]["root"] = "keys/tsa/../../evil-root.pem"

    def chain(files: dict[str, bytes], m: dict[str, Any]) -> None:
        old = m["checkpoints"][0]["timestamps"][0]["chain"]
        _rename(files, old, "keys/tsa/other-chain.pem")
        for c in m["checkpoints"]:
            for t in c["timestamps"]:
                t["chain"] = "keys/tsa/other-chain.pem"

    def artifact(files: dict[str, bytes], m: dict[str, Any]) -> None:
        art = m["artifacts"][0]
        _rename(files, art["file"], "artifacts/elsewhere.img")
        art["file"] = "artifacts/elsewhere.img"

    for name, edit, subject in [
        ("root", tsa_root, "keys/tsa/../../evil-root.pem"),
        ("chain", chain, "keys/tsa/other-chain.pem"),
        ("artifact", artifact, "artifacts/elsewhere.img"),
    ]:
        failed = _first_failure(_rewrite(tmp_path / f"{name}.zip", edit))
        assert failed.name == "manifest", (name, failed)
        assert isinstance(failed.error, BundleMemberError), (name, failed)
        assert failed.error.subject == subject and "must be" in failed.detail


def test_unsigned_manifest_fields_are_shown_as_claims(tmp_path: Path) -> None:
    def edit(_: dict[str, bytes], m: dict[str, Any]) -> None:
        m["exported_by"] = {"id": "the-judge", "role": "legal"}
        m["created_at"] = "1999-01-01T00:00:00+00:00"

    report = verify_bundle(_rewrite(tmp_path / "claims.zip", edit), POLICY)
    # Nothing checks them (they are not evidence), so the bundle still verifies, but the
    # checklist presents them as the exporter's unsigned word, beside the sealed facts.
    assert report.ok, report.to_json()
    manifest = next(c for c in report.checks if c.name == "manifest")
    assert "unsigned claims, not checked: exported by the-judge (legal) at 1999" in manifest.detail
    export = next(c for c in report.checks if c.name == "export record")
    assert export.detail.startswith("sealed event") and "the-judge" not in export.detail
