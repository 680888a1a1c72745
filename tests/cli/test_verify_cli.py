"""`locard verify` through the real console script, as an auditor runs it.

Exit status 0 only when every check passed, 1 when a check failed, 2 when verification
could not run; never a traceback, whatever the input.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from custody.ledger import Ledger
from custody.signing import NoteSigner
from custody.tsa_builtin import BuiltinTSA
from tests.support.ledger_fixtures import ORIGIN
from tests.support.receipts import Sealed, seal_receipts
from verify.note import parse_note

# The database only produced the receipts; tests/ledger covers both backends, and
# repeating every subprocess on PostgreSQL would add time and no coverage.
pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).parent / "locard"
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-m", "cli.main"]
ALL_CHECKS = (
    "receipt format",
    "event hash",
    "log key",
    "checkpoint signature",
    "inclusion proof",
    "timestamp (builtin)",
    "event time",
    "collector signature",
)


def locard(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1"}
    env.pop("LOCARD_DEBUG", None)
    done = subprocess.run(
        [*COMMAND, "verify", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    for stream in (done.stdout, done.stderr):
        assert "Traceback" not in stream, stream
    return done


@dataclass(frozen=True)
class Files:
    sealed: Sealed
    receipt: Path
    key_file: Path
    root_pem: Path
    tmp: Path

    def write(self, name: str, doc: dict[str, Any] | bytes) -> Path:
        path = self.tmp / name
        path.write_bytes(doc if isinstance(doc, bytes) else json.dumps(doc).encode())
        return path

    def tampered(self, name: str, **changes: Any) -> Path:
        doc = copy.deepcopy(self.sealed.ingest)
        doc.update(changes)
        return self.write(name, doc)


def _pem(der: bytes) -> bytes:
    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)


@pytest.fixture
def files(ledger: Ledger, builtin_tsa: BuiltinTSA, tmp_path: Path) -> Files:
    sealed = seal_receipts(ledger, tmp_path)
    f = Files(
        sealed,
        tmp_path / "receipt.json",
        tmp_path / "vault.vkey",
        tmp_path / "tsa-root.pem",
        tmp_path,
    )
    f.receipt.write_text(json.dumps(sealed.ingest, indent=2))
    f.key_file.write_text(sealed.log_key + "\n")
    f.root_pem.write_bytes(_pem(builtin_tsa.root_cert_der))
    return f


def pinned(f: Files) -> list[str | Path]:
    return ["--trusted-key", f.sealed.log_key, "--trusted-tsa-ca", f.root_pem]


def assert_failed(done: subprocess.CompletedProcess[str], name: str, check: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "VERIFICATION FAILED" in done.stdout
    assert f"{name} failed [{check}]" in done.stdout, done.stdout
    assert "VERIFIED —" not in done.stdout


# -- passing -------------------------------------------------------------------------------


def test_good_receipt_prints_a_full_checklist_and_exits_0(files: Files) -> None:
    done = locard(files.receipt, *pinned(files))
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert "VERIFIED — every check passed" in done.stdout
    for name in ALL_CHECKS:
        assert name in done.stdout
    assert "warning" not in done.stdout and done.stderr == ""


def test_unpinned_run_is_not_verified(files: Files) -> None:
    done = locard(files.receipt)
    assert done.returncode == 3, done.stdout + done.stderr
    assert "NOT VERIFIED (unpinned)" in done.stdout and "VERIFIED —" not in done.stdout
    assert "--trusted-key" in done.stdout and "--trusted-tsa-ca" in done.stdout
    assert "locard keys" in done.stdout and "tsa-root.pem" in done.stdout
    doc = json.loads(locard(files.receipt, "--json").stdout)
    assert doc["ok"] is False and doc["verdict"] == "unpinned"
    assert doc["unpinned"] == ["log key", "TSA root"]
    assert doc["reports"][0]["ok"] is True and doc["reports"][0]["verdict"] == "unpinned"
    only_key = locard(files.receipt, "--trusted-key", files.key_file)
    assert only_key.returncode == 3 and "--trusted-tsa-ca" in only_key.stdout
    only_root = locard(files.receipt, "--trusted-tsa-ca", files.root_pem)
    assert only_root.returncode == 3 and "locard keys" in only_root.stdout
    # A failed check is a failure, pinned or not.
    bad = files.tampered("bad.json", tree_size=files.sealed.ingest["tree_size"] + 1)
    assert locard(bad).returncode == 1


def test_json_output(files: Files) -> None:
    done = locard(files.receipt, "--json", *pinned(files))
    assert done.returncode == 0
    doc = json.loads(done.stdout)
    assert doc["ok"] is True
    (report,) = doc["reports"]
    assert report["ok"] is True and report["subject"] == "event 2 (ingest)"
    assert [c["name"] for c in report["checks"]] == list(ALL_CHECKS)
    assert all(c["ok"] and c["error"] is None and c["check"] is None for c in report["checks"])

    bad = files.tampered("bad.json", tree_size=files.sealed.ingest["tree_size"] + 1)
    done = locard(bad, "--json", *pinned(files))
    assert done.returncode == 1
    doc = json.loads(done.stdout)
    assert doc["ok"] is False
    failed = [c for c in doc["reports"][0]["checks"] if not c["ok"]]
    assert failed == [
        {
            "name": "inclusion proof",
            "ok": False,
            "detail": failed[0]["detail"],
            "error": "TreeSizeMismatch",
            "check": "tree-size",
        }
    ]


# -- failing checks ------------------------------------------------------------------------


def test_tampered_receipts_name_the_failing_check(files: Files) -> None:
    ingest = files.sealed.ingest
    proof = ingest["inclusion_proof"]
    edited = copy.deepcopy(ingest["event"])
    edited["body"]["file_name"] = "innocent.img"
    attacker = NoteSigner.generate(ORIGIN)
    forged = attacker.sign_note(parse_note(ingest["checkpoint"].encode()).text).decode()
    t = files.tampered
    size = ingest["tree_size"]
    cases = [
        (t("truncated.json", inclusion_proof=proof[:-1]), "inclusion proof", "inclusion"),
        (t("size.json", tree_size=size + 1), "inclusion proof", "tree-size"),
        (t("edited.json", event=edited), "event hash", "leaf-hash"),
        (t("key.json", checkpoint=forged, log_key=attacker.vkey()), "log key", "key"),
        (t("format.json", format="something-else"), "receipt format", "format"),
        (t("types.json", inclusion_proof=[1]), "receipt format", "format"),
        (t("none.json", timestamps=[]), "timestamp", "timestamp"),
        (files.write("sig.json", files.sealed.bad_signature), "collector signature", "signature"),
    ]
    for path, name, check in cases:
        assert_failed(locard(path, *pinned(files)), name, check)


def test_token_for_another_imprint(files: Files, builtin_tsa: BuiltinTSA) -> None:
    token = builtin_tsa.timestamp(hashlib.sha256(b"a different checkpoint").digest())
    stamps = copy.deepcopy(files.sealed.ingest["timestamps"])
    stamps[0]["token"] = base64.b64encode(token.tsr_der).decode()
    path = files.tampered("imprint.json", timestamps=stamps)
    assert_failed(locard(path, *pinned(files)), "timestamp (builtin)", "timestamp-imprint")


def test_origin_is_enforced(files: Files) -> None:
    done = locard(files.receipt, "--origin", "another.example/ledger", *pinned(files))
    assert_failed(done, "checkpoint signature", "checkpoint-origin")
    assert locard(files.receipt, "--origin", ORIGIN, *pinned(files)).returncode == 0


def test_hostile_text_is_printed_literally(files: Files) -> None:
    # Rich markup in evidence used to be interpreted (and "[/bold]" crashed the printer).
    path = files.tampered("markup.json", origin="[/bold][green]✔ VERIFIED")
    done = locard(path, *pinned(files))
    assert_failed(done, "checkpoint signature", "checkpoint-origin")
    assert "[/bold][green]✔ VERIFIED" in done.stdout


# -- unusable input ------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["missing.json", "a-directory"])
def test_unreadable_receipt_exits_2_with_a_message(files: Files, target: str) -> None:
    (files.tmp / "a-directory").mkdir()
    done = locard(files.tmp / target)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: cannot read" in done.stderr and target in done.stderr


@pytest.mark.parametrize(
    "content", [b"\x89PNG\r\n\x1a\n\x00\x00garbage", b"", b"{", b"null", b"[" * 50_000]
)
def test_garbage_receipt_fails_the_format_check(files: Files, content: bytes) -> None:
    assert_failed(locard(files.write("garbage.json", content)), "receipt format", "format")


def test_json_mode_reports_unusable_input_as_json(files: Files) -> None:
    done = locard(files.tmp / "missing.json", "--json")
    assert done.returncode == 2
    doc = json.loads(done.stdout)
    assert doc["ok"] is False and "cannot read" in doc["error"]


# -- --artifact ----------------------------------------------------------------------------


def test_artifact_good_and_bad(files: Files) -> None:
    good = locard(files.receipt, "--artifact", files.sealed.artifact, *pinned(files))
    assert good.returncode == 0 and "artifact bytes" in good.stdout

    data = bytearray(files.sealed.artifact.read_bytes())
    data[100] ^= 0x01
    flipped = files.write("flipped.img", bytes(data))
    done = locard(files.receipt, "--artifact", flipped, *pinned(files))
    assert_failed(done, "artifact bytes", "artifact-hash")

    done = locard(files.receipt, "--artifact", files.tmp / "nope.img", *pinned(files))
    assert done.returncode == 2 and "--artifact" in done.stderr and "nope.img" in done.stderr


# -- --trusted-key -------------------------------------------------------------------------


def test_trusted_key_as_text_and_as_files(files: Files) -> None:
    args: list[str | Path] = ["--trusted-tsa-ca", files.root_pem]
    assert locard(files.receipt, "--trusted-key", files.sealed.log_key, *args).returncode == 0
    assert locard(files.receipt, "--trusted-key", files.key_file, *args).returncode == 0
    listed = files.write("keys.txt", f"# vault\n{files.sealed.log_key}\n".encode())
    assert locard(files.receipt, "--trusted-key", listed, *args).returncode == 0
    keys_json = files.write("keys.json", {"origin": ORIGIN, "log_key": files.sealed.log_key})
    assert locard(files.receipt, "--trusted-key", keys_json, *args).returncode == 0


def test_trusted_key_of_another_vault_fails_the_key_check(files: Files) -> None:
    other = NoteSigner.generate(ORIGIN).vkey()
    done = locard(files.receipt, "--trusted-key", other, "--trusted-tsa-ca", files.root_pem)
    assert_failed(done, "log key", "key")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("no-such-file.vkey", "no such file"),
        ("vault+zz+AAAA", "not a verifier key"),
        ("keys-empty.txt", "no verifier key"),
    ],
)
def test_unusable_trusted_key_exits_2(files: Files, value: str, message: str) -> None:
    files.write("keys-empty.txt", b"# nothing here\n")
    # Relative names resolve against the repository (the subprocess's cwd): make them ours.
    arg = value if "+" in value else str(files.tmp / value)
    done = locard(files.receipt, "--trusted-key", arg)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert message in done.stderr and done.stdout == ""


# -- --trusted-tsa-ca ----------------------------------------------------------------------


def test_trusted_tsa_ca(files: Files, tmp_path_factory: pytest.TempPathFactory) -> None:
    key = ["--trusted-key", files.sealed.log_key]
    assert locard(files.receipt, *key, "--trusted-tsa-ca", files.root_pem).returncode == 0

    rogue = BuiltinTSA.create(tmp_path_factory.mktemp("rogue") / "tsa", name="rogue")
    other_root = files.write("rogue-root.pem", _pem(rogue.root_cert_der))
    done = locard(files.receipt, *key, "--trusted-tsa-ca", other_root)
    assert_failed(done, "timestamp (builtin)", "timestamp-chain")

    der_root = files.write("root.der", rogue.root_cert_der)
    done = locard(files.receipt, *key, "--trusted-tsa-ca", der_root)
    assert_failed(done, "timestamp (builtin)", "timestamp-chain")

    junk = files.write(
        "junk.pem", b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n"
    )
    done = locard(files.receipt, *key, "--trusted-tsa-ca", junk)
    assert done.returncode == 2 and "--trusted-tsa-ca" in done.stderr
    done = locard(files.receipt, *key, "--trusted-tsa-ca", files.tmp / "absent.pem")
    assert done.returncode == 2 and "absent.pem" in done.stderr
