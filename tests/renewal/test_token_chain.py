"""Checkpoint tokens outlive their TSA certificate through renewals (archive timestamp
chains): judged at a time after the built-in TSA's certificate expired, a bundle exported
after the renewal verifies, one exported before fails with `TimestampExpired`; OpenSSL
(`ts -verify -attime`) agrees about each token."""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from app.vault import make_store
from cli.main import app
from custody import renewal as tokens
from tests.renewal.conftest import Aged
from verify.bundle import parse_manifest, verify_bundle
from verify.errors import MalformedInput, TimestampExpired, TimestampRenewalError
from verify.merkle import leaf_hash, root_from_inclusion_proof
from verify.policy import VerificationPolicy
from verify.renewal import EvidenceRecord, leaf_data, parse_record, verify_at
from verify.timestamp import load_pem_or_der_certs, tsa_certificate_chain, verify_timestamp


def _policy(aged: Aged, at: datetime | None = None) -> VerificationPolicy:
    return VerificationPolicy(
        trusted_log_keys=(aged.log_key,),
        trusted_tsa_roots=(aged.builtin_root, aged.tsa.ca_der),
        validation_time=at,
    )


def test_renew_says_who_renewed(aged: Aged) -> None:
    own, ext = aged.own_renewal, aged.external_renewal
    assert (own["renewer"], own["self_operated"]) == ("builtin", True)
    assert own["tokens"]["leaves"] >= 1 and own["tokens"]["reasons"] == ["renewal forced"]
    assert (ext["renewer"], ext["self_operated"]) == ("acme", False)
    assert "it comes from the vault's own TSA" in ext["tokens"]["reasons"]
    assert [r["version"] for r in own["reports"]] == [1]
    assert [r["version"] for r in ext["reports"]] == [2]
    # Nothing is due right after: a second pass renews nothing and seals nothing.
    result = CliRunner().invoke(app, ["renew"], env=_env(aged))
    assert result.exit_code == 0, result.output
    assert "renewer: acme (external TSA)" in result.stdout
    assert "checkpoint tokens: none due" in result.stdout


def _env(aged: Aged) -> dict[str, str]:
    from tests.renewal.conftest import cli_env

    return cli_env(aged.settings, aged.tsa)


def test_renewals_are_archived_and_sealed(aged: Aged) -> None:
    store = make_store(aged.settings)
    renewals = tokens.read_renewals(store)
    assert [r.seq for r in renewals] == [1, 2]
    assert [r.self_operated for r in renewals] == [True, False]
    # The second renewal covers the first one's token: an archive timestamp chain.
    assert leaf_data(renewals[0].token) in renewals[1].leaves
    assert store.read_bytes(tokens.renewal_key(2, "tsr")) == renewals[1].token
    from app.vault import open_vault

    vault = open_vault(aged.settings)
    try:
        sealed = [e for e in vault.ledger.chain("vault") if b'"evidence.renewed"' in e.canonical]
    finally:
        vault.close()
    assert len(sealed) == 2


def test_bundle_after_renewal_verifies_past_the_tsa_expiry(aged: Aged) -> None:
    at = aged.builtin_expiry + timedelta(days=1)
    today = verify_bundle(aged.bundle_after, _policy(aged))
    assert today.ok, today.first_failure
    later = verify_bundle(aged.bundle_after, _policy(aged, at))
    assert later.ok, later.first_failure
    with zipfile.ZipFile(aged.bundle_after) as zf:
        assert any(n.startswith("renewals/") for n in zf.namelist())


def test_bundle_before_renewal_fails_past_the_tsa_expiry(aged: Aged) -> None:
    at = aged.builtin_expiry + timedelta(days=1)
    assert verify_bundle(aged.bundle_before, _policy(aged)).ok  # today it verifies
    report = verify_bundle(aged.bundle_before, _policy(aged, at))
    failed = report.first_failure
    assert failed is not None and failed.error is not None
    assert type(failed.error).__name__ == "TimestampExpired", failed.error
    assert failed.error.check == "timestamp-expired"


def test_cli_verify_at(aged: Aged, tmp_path: Path) -> None:
    (tmp_path / "builtin.pem").write_bytes(_pem(aged.builtin_root))
    args = ["--trusted-key", aged.log_key, "--trusted-tsa-ca", str(tmp_path / "builtin.pem")]
    args += ["--trusted-tsa-ca", str(aged.tsa.ca_pem_path)]
    at = (aged.builtin_expiry + timedelta(days=1)).isoformat()
    ok = CliRunner().invoke(app, ["verify", str(aged.bundle_after), *args, "--at", at])
    assert ok.exit_code == 0, ok.output
    old = CliRunner().invoke(app, ["verify", str(aged.bundle_before), *args, "--at", at])
    assert old.exit_code == 1, old.output
    assert "TimestampExpired" in old.output or "timestamp-expired" in old.output, old.output
    bad = CliRunner().invoke(app, ["verify", str(aged.bundle_after), *args, "--at", "soon"])
    assert bad.exit_code == 2, bad.output


def _pem(der: bytes) -> bytes:
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    return x509.load_der_x509_certificate(der).public_bytes(Encoding.PEM)


def _openssl_verify(tsr: bytes, digest: bytes, ca_pem: bytes, at: int, tmp: Path) -> str:
    (tmp / "t.tsr").write_bytes(tsr)
    (tmp / "ca.pem").write_bytes(ca_pem)
    done = subprocess.run(
        ["openssl", "ts", "-verify", "-digest", digest.hex(), "-in", "t.tsr"]
        + ["-CAfile", "ca.pem", "-attime", str(at)],
        cwd=tmp,
        capture_output=True,
        timeout=30,
    )
    return (done.stdout + done.stderr).decode(errors="replace")


def test_openssl_judges_each_token_at_the_future_time(aged: Aged, tmp_path: Path) -> None:
    """OpenSSL, knowing nothing of Locard: the built-in token fails at the future time, the
    renewal that covers it (its imprint recomputed from the record's hash path) passes."""
    at = int((aged.builtin_expiry + timedelta(days=1)).timestamp())
    with zipfile.ZipFile(aged.bundle_after) as zf:
        name = next(n for n in zf.namelist() if n.startswith("renewals/"))
        record = parse_record(zf.read(name))
        size, tsa = name.removeprefix("renewals/").removesuffix(".json").split(".", 1)
        token = zf.read(f"checkpoints/{size}.{tsa}.tsr")
        note = zf.read(f"checkpoints/{size}.note")
    body = note.split(b"\n\n", 1)[0] + b"\n"
    digest = hashlib.sha256(body).digest()
    builtin_pem = _pem(aged.builtin_root)
    now = _openssl_verify(
        token, digest, builtin_pem, int(aged.builtin_expiry.timestamp()) - 60, tmp_path
    )
    assert "Verification: OK" in now, now
    expired = _openssl_verify(token, digest, builtin_pem, at, tmp_path)
    assert "Verification: OK" not in expired and "expired" in expired, expired
    current = token
    last = record.renewals[-1]
    for step in record.renewals:
        imprint = root_from_inclusion_proof(
            leaf_hash(leaf_data(current)), step.leaf_index, step.tree_size, step.proof
        )
        current = step.token
    assert last.tsa == "acme"
    renewed = _openssl_verify(last.token, imprint, aged.tsa.ca_pem_path.read_bytes(), at, tmp_path)
    assert "Verification: OK" in renewed, renewed


def test_verify_at_refuses_broken_or_foreign_renewals(aged: Aged) -> None:
    with zipfile.ZipFile(aged.bundle_after) as zf:
        name = next(n for n in zf.namelist() if n.startswith("renewals/"))
        record = parse_record(zf.read(name))
        size, tsa = name.removeprefix("renewals/").removesuffix(".json").split(".", 1)
        token = zf.read(f"checkpoints/{size}.{tsa}.tsr")
        note = zf.read(f"checkpoints/{size}.note")
        chain_pem = zf.read(f"keys/tsa/{tsa}-chain.pem")
    digest = hashlib.sha256(note.split(b"\n\n", 1)[0] + b"\n").digest()
    roots = [aged.builtin_root, aged.tsa.ca_der]
    intermediates = load_pem_or_der_certs(chain_pem)
    info = verify_timestamp(token, digest, roots=roots, intermediates=intermediates)
    chain = tsa_certificate_chain(token, roots=roots, intermediates=intermediates)
    at = aged.builtin_expiry + timedelta(days=1)

    def check(rec: EvidenceRecord | None, when: datetime = at) -> str:
        return verify_at(token, info, chain, when, rec, lambda _: roots)

    assert "through 2 renewal(s)" in check(record)
    with pytest.raises(TimestampExpired):
        check(None)
    first = record.renewals[0]
    bent = replace(first, proof=(bytes(32), *first.proof[1:]) if first.proof else (bytes(32),))
    with pytest.raises(TimestampRenewalError):
        check(replace(record, renewals=(bent, *record.renewals[1:])))
    with pytest.raises(TimestampRenewalError, match="another token"):
        check(replace(record, covers=bytes(32)))
    # Past the external renewal's own expiry nothing carries the token any more.
    with pytest.raises(TimestampExpired):
        check(record, at + timedelta(days=20 * 365))


def test_only_a_v3_manifest_names_renewals(aged: Aged) -> None:
    with zipfile.ZipFile(aged.bundle_after) as zf:
        doc = json.loads(zf.read("manifest.json"))
    assert doc["format"] == "locard-bundle/3"
    parse_manifest(json.dumps(doc).encode())
    with pytest.raises(MalformedInput, match="renewal"):
        parse_manifest(json.dumps({**doc, "format": "locard-bundle/2"}).encode())
