"""Issued reports renewed with archive document timestamps, kept as new write-once versions;
an external TSA's revocation data fetched once at signing, embedded and archived."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime
from pathlib import Path

from cryptography import x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed

from app.reports.archival import archive_field
from app.reports.archive import latest_versions, version_key
from app.vault import make_store
from custody.pki import crl_store_key
from tests.renewal.conftest import Aged
from tests.reports.helpers import attached_json, pdf_text, squashed
from tests.reports.validation import lta_validate


def test_each_renewal_is_a_new_version_beside_the_issued_one(aged: Aged) -> None:
    store = make_store(aged.settings)
    issued = hashlib.sha256(aged.issued_pdf).hexdigest()
    key = lambda n: version_key(aged.scenario.case_id, issued, n)  # noqa: E731
    assert store.read_bytes(key(0)) == aged.issued_pdf  # never overwritten
    v1, v2 = store.read_bytes(key(1)), store.read_bytes(key(2))
    assert v1.startswith(aged.issued_pdf) and v2.startswith(v1)  # incremental updates
    assert [r["sha256"] for r in aged.external_renewal["reports"]] == [
        hashlib.sha256(v2).hexdigest()
    ]
    newest = {v.issued_sha256: v for v in latest_versions(store)}[issued]
    assert (newest.version, newest.tsa, newest.self_operated) == (2, "acme", False)


def test_renewed_report_carries_the_archive_timestamp_chain(aged: Aged) -> None:
    store = make_store(aged.settings)
    issued = hashlib.sha256(aged.issued_pdf).hexdigest()
    pdf = store.read_bytes(version_key(aged.scenario.case_id, issued, 2))
    reader = PdfFileReader(io.BytesIO(pdf))
    names = [s.field_name for s in reader.embedded_timestamp_signatures]
    assert names[-2:] == [archive_field(1), archive_field(2)], names
    # The DSS now holds the external CA's CRL too, fetched and embedded fresh.
    dss_crls = {bytes(c.get_object().data) for c in reader.root["/DSS"]["/CRLs"]}
    assert aged.crl in dss_crls
    result = lta_validate(pdf, [aged.builtin_root, aged.tsa.ca_der])
    assert result.ades_subindic == AdESPassed.OK, (result.ades_subindic, result.failure_msg)


def test_external_tsa_revocation_fetched_once_embedded_and_archived(
    aged: Aged, tmp_path: Path
) -> None:
    assert aged.crl_fetches == 1
    store = make_store(aged.settings)
    assert store.read_bytes(crl_store_key(aged.crl)) == aged.crl
    reader = PdfFileReader(io.BytesIO(aged.external_pdf))
    dss_crls = [bytes(c.get_object().data) for c in reader.root["/DSS"]["/CRLs"]]
    assert aged.crl in dss_crls
    issuers = {x509.load_der_x509_crl(c).issuer for c in dss_crls}
    for c in reader.root["/DSS"]["/Certs"]:
        cert = x509.load_der_x509_certificate(c.get_object().data)
        if cert.issuer != cert.subject:
            assert cert.issuer in issuers, cert.subject.rfc4514_string()
    result = lta_validate(aged.external_pdf, [aged.builtin_root, aged.tsa.ca_der])
    assert result.ades_subindic == AdESPassed.OK, (result.ades_subindic, result.failure_msg)
    report = json.loads(attached_json(aged.external_pdf, tmp_path))
    assert report["vault"]["report_signer"]["long_term"] is True
    assert report["vault"]["report_signer"]["timestamped_by"] == "acme"


def test_report_names_validity_windows_and_the_renewal_covering_them(
    aged: Aged, tmp_path: Path
) -> None:
    """Key expiry and rotation in the report: the built-in TSA, no longer configured, still
    dates the case's older checkpoints; the report lists its certificates with the renewal
    chain that carries them, ending with the external TSA, and says which renewal was the
    vault's own."""
    report = json.loads(attached_json(aged.external_pdf, tmp_path))
    vault = report["vault"]
    assert [(n["seq"], n["tsa"], n["self_operated"]) for n in vault["renewals"]] == [
        (1, "builtin", True),
        (2, "acme", False),
    ]
    builtin = hashlib.sha256(aged.builtin_root).hexdigest()
    [root] = [c for c in vault["certificates"] if c["sha256"] == builtin]
    assert root["role"].startswith("TSA builtin")
    cover = root["covered_by"]
    assert cover["renewals"] == [1, 2]
    assert (cover["tsa"], cover["self_operated"]) == ("acme", False)
    # The external renewal holds past the built-in TSA certificate's expiry.
    assert datetime.fromisoformat(cover["valid_until"]) > aged.builtin_expiry
    signer = vault["report_signer"]["certificates"][0]
    assert signer["not_before"] < signer["not_after"] and signer["covered_by"] is None
    text = squashed(pdf_text(aged.external_pdf, tmp_path))
    for phrase in ("Appendix C. Key expiry and renewal", "the vault itself", "not renewed yet"):
        assert squashed(phrase) in text, phrase
