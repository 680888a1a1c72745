"""The signed PDF custody report: what it says, that its signature holds, that issuing it is
recorded, that a third party can re-run every check it prints, and its PDF/A-3b and tagged
(PDF/UA-1) structure.

veraPDF is not available here, nor any PDF/UA checker (PAC): the structure tests read what a
validator would start with (XMP identification, the output intent, the attachment's
relationship, every font embedded, the structure tree with headings, tables and header
cells, the document's language and displayed title). They do not check full ISO 19005-3 or
ISO 14289-1 conformance: content-stream rules (every glyph inside marked content, reading
order, contrast), alternate text (the report has no figures or images), or that the tags
match what a reader sees."""

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
from tests.reports.pdf_structure import open_pdf, page_fonts, struct_elements, tag_counts
from tests.support.live_server import LiveVault, live_vault, make_settings
from verify.events import chain_key, decode_event

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
    # The hash is in a compressed content stream; alter a key of the catalog as first written
    # (uncompressed, before any signature: certainly inside the signed range) instead.
    at = pdf.index(b"/DisplayDocTitle") + 1
    forged = pdf[:at] + bytes([pdf[at] ^ 1]) + pdf[at + 1 :]
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
    every font embedded (pdffonts, and a FontFile in every font's descriptor). Full
    ISO 19005-3 conformance is not checked."""
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

    fonts_used = page_fonts(open_pdf(pdf))
    embedded = {name: [k for k in d if k.startswith("/FontFile")] for name, d in fonts_used}
    assert embedded and all(embedded.values()), embedded


def test_tagged_structure(issued: tuple[LiveVault, Scenario, bytes, dict[str, str]]) -> None:
    """The structure tree a screen reader follows (what of PDF/UA-1 can be read without a
    validator): marked, in English, the title shown, headings, tables whose every data cell
    names its header cells (Headers/ID), lists, every page tied to the tree."""
    _, sc, pdf, _ = issued
    doc = open_pdf(pdf)
    root = doc.Root
    assert "/StructTreeRoot" in root and "/ParentTree" in root.StructTreeRoot
    assert root.MarkInfo.Marked is True
    assert str(root.Lang) == "en"
    assert root.ViewerPreferences.DisplayDocTitle is True
    xmp = root.Metadata.read_bytes().decode()
    assert re.search(r"pdfuaid:part[^0-9]{1,3}1", xmp), xmp
    title = f"Chain-of-custody report {sc.case_id}"
    assert str(doc.trailer.Info.Title) == title
    assert title in xmp  # dc:title, the title a reader displays
    tags = tag_counts(doc)
    # a title page, five numbered sections and three appendices (checkpoints, re-check
    # commands, key expiry and renewal), each headed by an H1
    assert tags["/H1"] == 9, tags
    assert tags["/H2"] > 8 and tags["/H3"] >= 1, tags
    assert tags["/Table"] >= 10 and tags["/TR"] > tags["/Table"], tags
    assert tags["/TH"] > 0 and tags["/TD"] > tags["/TH"], tags
    assert tags["/L"] >= 1 and tags["/LI"] >= 1, tags  # the title page's notes
    assert tags["/P"] > 10, tags
    cells = list(struct_elements(doc))
    header_ids = {str(e.ID) for e in cells if e.S == "/TH"}
    data_cells = [e for e in cells if e.S == "/TD"]
    assert all(e.A.O == "/Table" for e in cells if e.S in ("/TH", "/TD"))
    assert all(len(e.A.Headers) > 0 for e in data_cells), "a data cell without its header"
    assert {str(h) for e in data_cells for h in e.A.Headers} <= header_ids
    assert all("/StructParents" in page.obj for page in doc.pages)


def test_words_are_never_broken_mid_token(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]], tmp_path: Path
) -> None:
    """Identifiers, event names, file names, hosts and seal numbers come out whole on one
    line (poppler's text keeps a wrapped cell's line breaks): "disable_accou nt" would fail."""
    _, sc, pdf, _ = issued
    text = pdf_text(pdf, tmp_path)
    report = CaseReport.model_validate_json(attached_json(pdf, tmp_path))
    tokens = {"isolate_host", sc.containment_target, sc.containment_ticket}
    for art in report.artifacts:
        tokens |= {art.id, art.file_name, *art.seals}
        tokens |= {e.type for e in art.events} | {e.actor.id for e in art.events}
    tokens |= {e.type for e in report.case_events}
    broken = sorted(t for t in tokens if t not in text)
    assert not broken, broken


def test_each_item_is_described_as_a_custody_form_asks(
    issued: tuple[LiveVault, Scenario, bytes, dict[str, str]], tmp_path: Path
) -> None:
    """Per item: make/model/serial, seal numbers, the collector, collection time and place,
    tool and version, the acquisition hash beside the vault's receipt time. Told at upload,
    sealed in the ingest event (body v3), stated in the JSON and printed in the PDF; an item
    uploaded without them says "not stated", and its event has no such keys."""
    live, sc, pdf, _ = issued
    described, plain = list(sc.artifacts)
    ingest = {item: _ingest_event(live, item) for item in (described, plain)}
    body = ingest[described]["body"]
    assert body["v"] == 3
    told = sc.described
    for name in ("device_make", "device_model", "device_serial", "collected_by"):
        assert body[name] == told[name]
    assert body["collection_place"] == told["collection_place"]
    assert body["tool_version"] == told["tool_version"]
    assert body["seals"] == ["SEAL-000417", "TAG-2026-0099"]
    assert not {"device_make", "seals", "collected_by"} & set(ingest[plain]["body"])
    report = CaseReport.model_validate_json(attached_json(pdf, tmp_path))
    first, second = report.artifacts
    assert (first.device_make, first.device_model, first.device_serial) == (
        "Dell",
        "PowerEdge R740",
        "SN-7Q2K9X3",
    )
    assert first.seals == ["SEAL-000417", "TAG-2026-0099"]
    assert first.collected_by == "Dana Ortiz" and first.collector == "collector"
    assert first.collection_place == told["collection_place"]
    assert first.collected_at is not None
    assert first.collected_at.isoformat() == told["collected_at"]
    assert second.device_serial is None and second.seals == []
    flat = squashed(pdf_text(pdf, tmp_path))
    item = flat[flat.index("1.Evidenceitems") : flat.index("2.Chainofcustody")]
    first_item, second_item = item.split(f"Item{second.id}")
    assert "Make/model/serialmakeDell,modelPowerEdgeR740,serialSN-7Q2K9X3" in first_item
    assert "Seal/tagnumbersSEAL-000417,TAG-2026-0099" in first_item
    assert "CollectedbyDanaOrtiz(astoldbycollector(collector))" in first_item
    collected = first.collected_at.strftime("%Y-%m-%d%H:%M:%S")
    assert f"Collectedat{collected}" in first_item
    assert f"Collectionplace{squashed(told['collection_place'])}" in first_item
    assert "Tool/methodwinpmem4.0,version4.0.0" in first_item
    # the acquisition hash, then beside it when the vault received the bytes
    received = first.ingested_at.strftime("%Y-%m-%d%H:%M:%S")
    assert f"AcquisitionhashSHA-256{first.sha256}" in first_item
    assert first_item.index(first.sha256) < first_item.index(f"Receivedbythevault{received}")
    assert "Make/model/serialnotstated" in second_item
    assert "Seal/tagnumbersnotstated" in second_item


def _ingest_event(live: LiveVault, item: str) -> dict[str, Any]:
    first = live.vault.ledger.chain(chain_key(None, item))[0]
    event = decode_event(first.canonical).as_json()
    assert event["type"] == "ingest"
    return event
