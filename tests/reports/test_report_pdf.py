"""The signed PDF custody report: what it says, that its signature holds, that issuing it is
recorded, and that a third party can re-run every check it prints."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko_certvalidator import ValidationContext

from app.reports.models import CaseReport
from app.reports.signing import DOC_TIMESTAMP_FIELD, SIGNATURE_FIELD
from tests.reports.conftest import Scenario, populate
from tests.reports.helpers import attached_json, case_events, pdf_text, run_recheck, squashed
from tests.support.live_server import LiveVault, live_vault, make_settings

BIN = Path(sys.executable).parent
PAGES = Path(__file__).resolve().parents[2] / "test-artifacts" / "report-pages"


def fetch_pdf(live: LiveVault, case_id: str, role: str = "legal") -> tuple[bytes, dict[str, str]]:
    with live.client(role) as c:
        r = c.get(f"/v1/cases/{case_id}/report.pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    return r.content, dict(r.headers)


def trust_context(live: LiveVault) -> ValidationContext:
    root = asn1_x509.Certificate.load(live.vault.keyring.tsa.root_cert_der)
    return ValidationContext(trust_roots=[root], allow_fetching=False)


@pytest.fixture(scope="module")
def issued(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[LiveVault, Scenario, bytes, dict[str, str]]]:
    """One vault and one issued PDF for the whole module: the tests only read them."""
    tmp = tmp_path_factory.mktemp("pdf-report")
    settings = make_settings(tmp / "vault", f"sqlite:///{tmp / 'locard.db'}")
    with live_vault(settings) as live:
        sc = populate(live)
        pdf, headers = fetch_pdf(live, sc.case_id)
        yield live, sc, pdf, headers


def issued_event(live: LiveVault, case_id: str, pdf: bytes) -> dict[str, Any]:
    digest = hashlib.sha256(pdf).hexdigest()
    found = [
        e for e in case_events(live, case_id, "report.issued") if e["body"]["sha256"] == digest
    ]
    assert len(found) == 1, "exactly one report.issued event must carry the PDF's SHA-256"
    return found[0]


def test_pdf_states_every_fact_and_how_to_check_it(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]], tmp_path: Path
) -> None:
    live, sc, pdf, _ = issued
    text = pdf_text(pdf, tmp_path)
    flat = squashed(text)
    for art_id, sha256 in sc.artifacts.items():
        assert art_id in flat
        assert sha256 in flat, f"sha256 of {art_id} missing"
        data = sc.files[art_id]
        assert hashlib.sha1(data).hexdigest() in flat
        assert hashlib.md5(data).hexdigest() in flat
    for reason in sc.reasons:
        assert squashed(reason) in flat, f"access reason {reason!r} missing"
    assert squashed(sc.transfer_reason) in flat
    assert "collectorhanded" in flat and "tolegal" in flat  # the hand-over, as a sentence
    assert squashed(sc.hold_reason) in flat and "Legalholdplacedon" in flat
    assert "isolate_host" in flat and sc.containment_target in flat
    assert sc.containment_ticket in flat
    assert "Chain-of-CustodyReport" in flat and sc.case_id in flat
    assert "All8integritycheckspassed" in flat
    assert "self-operated" in text
    # The exact commands the report tells a third party to run (checked by running them below).
    report = CaseReport.model_validate_json(attached_json(pdf, tmp_path))
    for cmd in report.recheck:
        assert squashed(cmd.command) in flat, cmd.command
    assert "locardverifyreceipt-" in flat
    assert f"opensslts-verify-digest{report.anchor.body_sha256}" in flat


def test_issuing_the_pdf_is_a_custody_event(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]],
) -> None:
    live, sc, pdf, headers = issued
    digest = hashlib.sha256(pdf).hexdigest()
    assert headers["x-locard-report-sha256"] == digest
    ev = issued_event(live, sc.case_id, pdf)
    assert ev["index"] == int(headers["x-locard-event-index"])
    assert ev["body"]["format"] == "pdf"
    assert ev["body"]["sha256"] == digest
    assert ev["body"]["size"] == len(pdf)
    assert ev["body"]["checkpoint_size"] == int(headers["x-locard-checkpoint"])
    assert ev["actor"] == {"id": "legal", "role": "legal"}
    # The event was sealed before the response: its anchor is older than the event itself.
    assert ev["body"]["checkpoint_size"] <= ev["index"]
    # A second report lists the first one's issuance among the case events.
    with live.client("legal") as c:
        second = c.get(f"/v1/cases/{sc.case_id}/report.json").json()
    issued_before = [e for e in second["case_events"] if e["type"] == "report.issued"]
    assert digest in [e["body"]["sha256"] for e in issued_before]


def test_pdf_signature_and_timestamps_validate(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]],
) -> None:
    live, _, pdf, _ = issued
    reader = PdfFileReader(io.BytesIO(pdf))
    sigs = {s.field_name: s for s in reader.embedded_signatures}
    assert set(sigs) == {SIGNATURE_FIELD, DOC_TIMESTAMP_FIELD}
    vc = trust_context(live)
    status = validate_pdf_signature(sigs[SIGNATURE_FIELD], signer_validation_context=vc)
    assert status.intact and status.valid and status.trusted, str(status)
    assert status.bottom_line
    ts = status.timestamp_validity
    assert ts is not None, "no signature time-stamp (PAdES B-T)"
    assert ts.intact and ts.valid and ts.trusted
    assert status.signing_cert.subject.native["common_name"].startswith("Locard custody report")
    doc_ts = validate_pdf_timestamp(sigs[DOC_TIMESTAMP_FIELD], validation_context=vc)
    assert doc_ts.intact and doc_ts.valid and doc_ts.trusted
    assert doc_ts.timestamp >= ts.timestamp


def test_a_changed_byte_breaks_the_signature(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]],
) -> None:
    live, sc, pdf, _ = issued
    sha256 = next(iter(sc.artifacts.values()))
    # The hash is in a compressed content stream; alter the uncompressed page count instead,
    # a byte that is certainly inside the signed range.
    at = pdf.index(b"/Count ")
    forged = pdf[: at + 7] + bytes([pdf[at + 7] ^ 1]) + pdf[at + 8 :]
    reader = PdfFileReader(io.BytesIO(forged), strict=False)
    sig = next(s for s in reader.embedded_signatures if s.field_name == SIGNATURE_FIELD)
    status = validate_pdf_signature(sig, signer_validation_context=trust_context(live))
    assert not status.intact and not status.bottom_line
    assert sha256  # the scenario had evidence to protect


def test_attached_json_is_the_report_and_matches_the_pdf(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]], tmp_path: Path
) -> None:
    live, sc, pdf, _ = issued
    raw = attached_json(pdf, tmp_path)
    report = CaseReport.model_validate_json(raw)
    ev = issued_event(live, sc.case_id, pdf)
    assert ev["body"]["report_sha256"] == hashlib.sha256(raw).hexdigest()
    assert {a.id: a.sha256 for a in report.artifacts} == sc.artifacts
    assert report.vault.report_signer is not None
    assert report.vault.report_signer.issued_by_tsa_root
    assert report.vault.report_signer.long_term  # built-in PKI and TSA: every CRL embedded
    assert report.all_checks_passed


def test_a_third_party_can_run_every_printed_command(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]], tmp_path: Path
) -> None:
    """Run the report's re-check commands verbatim in a clean directory, as an auditor would:
    only the PDF, copies of the evidence, the TSA root and a token for fetching receipts."""
    live, sc, pdf, _ = issued
    roots = {"tsa-root.pem": (live.settings.keys_dir / "tsa" / "tsa-root.pem").read_bytes()}
    outputs = run_recheck(live, sc, pdf, roots, tmp_path)
    assert any(k.startswith("pdfdetach") for k in outputs)


def test_pages_render_and_are_kept_as_artifacts(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]],
) -> None:
    """pdftoppm renders every page; the images are kept in test-artifacts/report-pages/ for
    a reader to look at (they were looked at by eye when this was written)."""
    _, _, pdf, _ = issued
    PAGES.mkdir(parents=True, exist_ok=True)
    for old in PAGES.glob("page-*.png"):
        old.unlink()
    (PAGES / "report.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "60", "-png", "report.pdf", "page"], cwd=PAGES, check=True)
    pngs = sorted(PAGES.glob("page-*.png"))
    assert len(pngs) >= 6
    assert all(p.read_bytes().startswith(b"\x89PNG") for p in pngs)


def test_the_custody_document_a_court_expects(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]], tmp_path: Path
) -> None:
    """Collection beside receipt, hand-overs with the hash re-verified, "as of" a checkpoint,
    the draft declaration, and the checkpoint hashes and commands in appendices."""
    live, sc, pdf, _ = issued
    text = pdf_text(pdf, tmp_path)
    flat = squashed(text)
    report = CaseReport.model_validate_json(attached_json(pdf, tmp_path))
    first = report.artifacts[0]
    assert first.collection_tool == "winpmem 4.0" and "winpmem4.0" in flat
    assert "Collectedbycollector(collector)" in flat
    assert "Receivedbythevault" in flat and "Acquisitionhash" in flat
    [hand_over] = first.hand_overs
    assert (hand_over.releaser.id, hand_over.releaser.role) == ("collector", "collector")
    assert (hand_over.receiver.id, hand_over.receiver.role) == ("legal", "legal")
    assert hand_over.purpose == sc.transfer_reason
    assert hand_over.sha256_verified == first.sha256 and hand_over.matches_acquisition
    assert "re-verified,equalstheacquisitionSHA-256" in flat
    # A snapshot is "as of" its checkpoint, never "until now".
    as_of = f"asofcheckpoint{report.anchor.size}"
    assert as_of in flat
    assert "now" not in [w.strip(".,()") for w in text.split()]
    # No JSON in the prose.
    assert '{"' not in text and "{'" not in text
    # The draft declaration, with every acquisition hash in full, left for a person to sign.
    declaration = flat[flat.index("5.Draftdeclaration") : flat.index("AppendixA.")]
    assert "FRE902(14)" in declaration and "FRE902(13)" in declaration
    assert "DRAFT" in declaration and "Signature:" in declaration
    for sha256 in sc.artifacts.values():
        assert sha256 in declaration
    # Checkpoint hashes and re-check commands only in the appendices, after the declaration.
    body = flat[: flat.index("AppendixA.")]
    assert report.anchor.root not in body
    assert "locardverifyreceipt-" not in body and "opensslts-verify" not in body
    # Certificates with their validity windows.
    signer = report.vault.report_signer
    assert signer is not None and signer.certificates
    for cert in signer.certificates + report.vault.certificates:
        assert cert.not_before < cert.not_after
        assert f"{cert.not_after:%Y-%m-%d}" in flat
    assert {c.role for c in report.vault.certificates} >= {"TSA builtin", "TSA builtin root"}


def test_pdf_a_3b_structure(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]], tmp_path: Path
) -> None:
    """What can be checked without veraPDF (not available here): PDF/A-3b identification in
    the XMP, the sRGB output intent, the attachment's associated-file relationship, and
    every font embedded. Full ISO 19005-3 conformance is not checked."""
    _, _, pdf, _ = issued
    root = PdfFileReader(io.BytesIO(pdf)).root
    xmp = root["/Metadata"].get_object().data.decode()
    assert re.search(r"pdfaid:part[^0-9]{1,3}3", xmp), xmp
    assert re.search(r"pdfaid:conformance[^A-Z]{1,3}B", xmp), xmp
    [intent] = root["/OutputIntents"]
    intent = intent.get_object()
    assert intent["/S"] == "/GTS_PDFA1"
    profile = intent["/DestOutputProfile"].get_object()
    assert profile["/N"] == 3 and profile.data[36:40] == b"acsp"  # an ICC profile
    [spec] = [s.get_object() for s in root["/AF"]]
    assert spec["/F"] == "report.json" and spec["/AFRelationship"] == "/Data"
    assert spec["/EF"]["/F"].get_object()["/Subtype"] == "/application/json"
    (tmp_path / "r.pdf").write_bytes(pdf)
    fonts = subprocess.run(
        ["pdffonts", "r.pdf"], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), fonts
