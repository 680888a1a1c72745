"""E01 images written by libewf's ewfacquire: the vault reads the acquisition header and
the hashes the imager stored, re-hashes the media, and agrees with ewfverify."""

from __future__ import annotations

import hashlib
import os
import subprocess
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.collectors.builders import ewfverify, flip_media_byte, make_e01, needs_ewf_tools
from tests.support.live_server import LiveVault

pytestmark = needs_ewf_tools
MEDIA = os.urandom(64 * 1024)


def acquired(image: Path) -> datetime:
    out = subprocess.run(["ewfinfo", str(image)], capture_output=True, text=True, check=True)
    line = next(x for x in out.stdout.splitlines() if "Acquisition date" in x)
    when = datetime.strptime(" ".join(line.split(":", 1)[1].split()), "%a %b %d %H:%M:%S %Y")
    return when.astimezone().astimezone(UTC)  # ewfinfo prints local time


def _upload(vault: LiveVault, case: str, image: Path) -> Any:
    with vault.client("collector") as c:
        return c.post(
            f"/v1/cases/{case}/collections",
            params={"file_name": image.name},
            content=image.read_bytes(),
        )


def _chain(vault: LiveVault, artifact: str) -> list[dict[str, Any]]:
    with vault.client("auditor") as c:
        r = c.get(f"/v1/artifacts/{artifact}/custody")
        assert r.status_code == 200, r.text
        return [e["event"] for e in r.json()]


def test_e01_header_and_both_hashes_recorded(vault: LiveVault, case: str, tmp_path: Path) -> None:
    image = make_e01(tmp_path, MEDIA)
    assert ewfverify(image)
    r = _upload(vault, case, image)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["collector"] == "ewf" and doc["mismatches"] == []
    art = doc["container"]
    # the container's own hashes: the E01 file as received
    assert art["sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()
    assert art["media_type"] == "application/x-ewf"
    assert art["collection_tool"] == "EWF imager 20140813"  # ewfacquire's version
    # occurred_at is the acquisition time the header holds, as ewfinfo shows it
    assert art["collected_at"] == acquired(image).isoformat().replace("+00:00", "Z")
    events = _chain(vault, art["id"])
    assert [e["type"] for e in events] == ["ingest", "collector.item"]
    item = events[1]["body"]
    # the media hashes: as stored by the imager, and as streamed now, against our own
    media = {"md5": hashlib.md5(MEDIA).hexdigest(), "sha1": hashlib.sha1(MEDIA).hexdigest()}
    assert {c["algorithm"]: (c["recorded"], c["computed"]) for c in item["checks"]} == {
        k: (v, v) for k, v in media.items()
    }
    assert item["matches"] is True
    rec = item["recorded"]
    assert rec["case_number"] == "IR-TEST-1" and rec["evidence_number"] == "EV-0042"
    assert rec["examiner_name"] == "A. Examiner" and rec["media_size"] == str(len(MEDIA))


def test_e01_media_that_no_longer_matches_is_stored_and_flagged(
    vault: LiveVault, case: str, tmp_path: Path
) -> None:
    image = make_e01(tmp_path, MEDIA, name="rotten")
    flip_media_byte(image, MEDIA, 1000)
    assert not ewfverify(image)  # libewf's own verifier agrees the image is bad
    r = _upload(vault, case, image)
    assert r.status_code == 201, r.text
    doc = r.json()
    kinds = {(m["kind"], m["algorithm"]) for m in doc["mismatches"]}
    assert kinds == {("hash", "md5"), ("hash", "sha1")}
    assert doc["items"][0]["matches"] is False
    for m in doc["mismatches"]:
        assert m["recorded"] != m["computed"]
    assert next(m for m in doc["mismatches"] if m["algorithm"] == "md5")["recorded"] == (
        hashlib.md5(MEDIA).hexdigest()
    )
    events = _chain(vault, doc["container"]["id"])
    assert [e["type"] for e in events] == [
        "ingest",
        "collector.item",
        "collector.mismatch",
        "collector.mismatch",
    ]
    # the stored bytes are the image as received, bad sector and all
    assert doc["container"]["sha256"] == hashlib.sha256(image.read_bytes()).hexdigest()


#: three segments of at most 1 MiB (ewfacquire's smallest) for ~3 MB of media
SPLIT_MEDIA = os.urandom(5600 * 512)


def _segments_zip(images: list[Path], dest: Path) -> Path:
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED) as zf:
        for p in images:
            zf.write(p, p.name)
    return dest


def test_split_image_segments_each_stored_and_media_checked(
    vault: LiveVault, case: str, tmp_path: Path
) -> None:
    first = make_e01(tmp_path, SPLIT_MEDIA, name="split", segment_size=1 << 20)
    segments = sorted(tmp_path.glob("split.E0*"))
    assert [p.name for p in segments] == ["split.E01", "split.E02", "split.E03"]
    assert ewfverify(first)
    r = _upload(vault, case, _segments_zip(segments, tmp_path / "split.E01.zip"))
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["collector"] == "ewf" and doc["mismatches"] == []
    # each segment is its own artifact: the bytes as ewfacquire wrote them
    got = {i["file_name"]: i["sha256"] for i in doc["items"]}
    assert got == {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in segments}
    # the image's facts on the container: media hashes stored vs streamed over all segments
    events = _chain(vault, doc["container"]["id"])
    assert [e["type"] for e in events] == ["ingest", "collector.item", "collector.container"]
    item = events[1]["body"]
    media = {
        "md5": hashlib.md5(SPLIT_MEDIA).hexdigest(),
        "sha1": hashlib.sha1(SPLIT_MEDIA).hexdigest(),
    }
    assert {c["algorithm"]: (c["recorded"], c["computed"]) for c in item["checks"]} == {
        k: (v, v) for k, v in media.items()
    }
    assert item["recorded"]["segments"] == "3"
    assert item["recorded"]["media_size"] == str(len(SPLIT_MEDIA))
    assert sorted(events[2]["body"]["items"]) == sorted(i["artifact"] for i in doc["items"])
    seg_chain = _chain(vault, doc["items"][1]["artifact"])
    assert [e["type"] for e in seg_chain] == ["ingest", "collector.item"]
    assert seg_chain[1]["body"]["container"] == doc["container"]["id"]


def test_split_image_with_a_rotten_segment_is_flagged_and_a_gap_refused(
    vault: LiveVault, case: str, tmp_path: Path
) -> None:
    make_e01(tmp_path, SPLIT_MEDIA, name="rot", segment_size=1 << 20)
    segments = sorted(tmp_path.glob("rot.E0*"))
    flip_media_byte(segments[1], SPLIT_MEDIA[1 << 20 :], 4096)
    r = _upload(vault, case, _segments_zip(segments, tmp_path / "rot.zip"))
    assert r.status_code == 201, r.text
    kinds = {(m["kind"], m["algorithm"]) for m in r.json()["mismatches"]}
    assert kinds == {("hash", "md5"), ("hash", "sha1")}
    # a missing middle segment: refused before anything is stored
    with vault.client("auditor") as a:
        before = len(a.get(f"/v1/cases/{case}/artifacts").json())
    r = _upload(vault, case, _segments_zip([segments[0], segments[2]], tmp_path / "gap.zip"))
    assert r.status_code == 400, r.text
    assert "without a gap" in r.json()["detail"]
    with vault.client("auditor") as a:
        assert len(a.get(f"/v1/cases/{case}/artifacts").json()) == before
