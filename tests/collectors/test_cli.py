"""`locard upload --case C container` recognises a collector's container and ingests it
item by item (a real subprocess against a live vault)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.collectors.builders import Kape, Velociraptor, collector_log, make_e01, needs_ewf_tools
from tests.support.live_server import LiveVault

ROOT = Path(__file__).resolve().parents[2]


def locard(vault: LiveVault, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOCARD_", "XDG_"))}
    home.mkdir(parents=True, exist_ok=True)
    env |= {"HOME": str(home), "COLUMNS": "200"}
    env |= {"LOCARD_SERVER": vault.url, "LOCARD_TOKEN": vault.tokens["collector"]}
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )


def test_velociraptor_collection_with_its_log(vault: LiveVault, case: str, tmp_path: Path) -> None:
    body = Velociraptor().build()
    zip_path = tmp_path / "Collection-WS-ALICE-2026-11-03T09_15_00Z.zip"
    zip_path.write_bytes(body)
    log = zip_path.with_suffix(".log")
    log.write_text(collector_log(body))
    out = locard(
        vault,
        tmp_path / "home",
        "upload",
        "--case",
        case,
        str(zip_path),
        "--collector-log",
        str(log),
    )
    assert out.returncode == 0, out.stderr
    assert "a Velociraptor offline collection" in out.stderr
    assert "2 item(s), 4 provenance file(s), 0 mismatch(es)" in out.stderr
    receipt = json.loads((tmp_path / (zip_path.name + ".receipt.json")).read_text())
    assert receipt["event"]["type"] == "collector.container"


def test_a_log_naming_another_container_refuses_it(
    vault: LiveVault, case: str, tmp_path: Path
) -> None:
    zip_path = tmp_path / "collection.zip"
    zip_path.write_bytes(Velociraptor().build())
    log = tmp_path / "collection.log"
    log.write_text(collector_log(b"some other container"))
    out = locard(
        vault,
        tmp_path / "home",
        "upload",
        "--case",
        case,
        str(zip_path),
        "--collector-log",
        str(log),
    )
    assert out.returncode == 1
    assert "container_hash_mismatch" in out.stderr or "collector logged" in out.stderr
    assert not (tmp_path / "collection.zip.receipt.json").exists()


def test_kape_zip_and_as_file(vault: LiveVault, case: str, tmp_path: Path) -> None:
    zip_path = tmp_path / "kape.zip"
    zip_path.write_bytes(Kape().build())
    out = locard(vault, tmp_path / "home", "upload", "--case", case, str(zip_path))
    assert out.returncode == 0, out.stderr
    assert "a KAPE target output" in out.stderr and "2 item(s), 3 provenance" in out.stderr
    # --as-file keeps the old behaviour: the zip alone, as one artifact
    plain = tmp_path / "kape-plain.zip"
    plain.write_bytes(zip_path.read_bytes())
    out = locard(vault, tmp_path / "home", "upload", "--case", case, str(plain), "--as-file")
    assert out.returncode == 0, out.stderr
    assert "KAPE" not in out.stderr and "item(s)" not in out.stderr


@needs_ewf_tools
def test_e01_image(vault: LiveVault, case: str, tmp_path: Path) -> None:
    image = make_e01(tmp_path / "img", os.urandom(32 * 1024))
    out = locard(vault, tmp_path / "home", "upload", "--case", case, str(image))
    assert out.returncode == 0, out.stderr
    assert (
        "an EWF (E01) image" in out.stderr
        and "1 item(s), 0 provenance file(s), 0 mismatch" in out.stderr
    )


def test_kape_output_folder(vault: LiveVault, case: str, tmp_path: Path) -> None:
    folder = tmp_path / "WS-ALICE"
    with zipfile.ZipFile(io.BytesIO(Kape().build())) as zf:
        zf.extractall(folder)  # the folder KAPE wrote (tdest)
    out = locard(vault, tmp_path / "home", "upload", "--case", case, str(folder))
    assert out.returncode == 0, out.stderr
    assert "a KAPE target output folder" in out.stderr
    assert "2 item(s), 3 provenance file(s), 0 mismatch(es)" in out.stderr
    assert (tmp_path / "WS-ALICE.zip.receipt.json").exists()


@needs_ewf_tools
def test_split_e01_image_sends_its_segments_together(
    vault: LiveVault, case: str, tmp_path: Path
) -> None:
    media = os.urandom(3000 * 512)
    image = make_e01(tmp_path / "img", media, name="laptop", segment_size=1 << 20)
    assert (tmp_path / "img" / "laptop.E02").exists()
    out = locard(vault, tmp_path / "home", "upload", "--case", case, str(image))
    assert out.returncode == 0, out.stderr
    assert "a split EWF image" in out.stderr and "laptop.E01, laptop.E02" in out.stderr
    assert "2 item(s), 0 provenance file(s)" in out.stderr and "0 mismatch" in out.stderr
    assert (tmp_path / "img" / "laptop.E01.zip.receipt.json").exists()  # as sent
