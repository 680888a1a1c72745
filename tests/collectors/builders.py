"""Real collector outputs, small: an E01 written by libewf's own ewfacquire, and zips laid
out exactly as Velociraptor and KAPE write them (see app/collectors/velociraptor.py and
kape.py for where each name and field comes from)."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.collectors.velociraptor import member_of

EWFACQUIRE = shutil.which("ewfacquire")
#: skipped on a developer machine without ewf-tools; CI installs them (scripts/services.sh)
needs_ewf_tools = pytest.mark.skipif(
    EWFACQUIRE is None and not os.environ.get("CI"),
    reason="ewf-tools (ewfacquire, ewfverify) not installed",
)


def make_e01(
    folder: Path,
    media: bytes,
    *,
    name: str = "disk",
    segment_size: int | None = None,
    **header: str,
) -> Path:
    """An EnCase 6 image of `media`, with MD5 and SHA-1 stored, made by ewfacquire; with
    `segment_size` (at least 1 MiB) split into NAME.E01, NAME.E02, … as `-S` writes them."""
    folder.mkdir(parents=True, exist_ok=True)
    raw = folder / f"{name}.raw"
    raw.write_bytes(media)
    opts = {"-C": "IR-TEST-1", "-E": "EV-0042", "-e": "A. Examiner", "-D": "laptop disk"}
    opts |= {"-N": header.get("notes", "seized at desk 4")}
    if segment_size is not None:
        opts["-S"] = str(segment_size)
    args = [a for kv in opts.items() for a in kv]
    subprocess.run(
        [EWFACQUIRE or "ewfacquire", "-u", "-q", "-t", str(folder / name), *args]
        + ["-d", "sha1", "-c", "none", "-f", "encase6", str(raw)],
        check=True,
        capture_output=True,
    )
    raw.unlink()
    return folder / f"{name}.E01"


def flip_media_byte(image: Path, media: bytes, offset: int) -> None:
    """Corrupts one byte of the stored media (an uncompressed image holds it verbatim):
    the bit rot an image's stored hash exists to catch."""
    data = bytearray(image.read_bytes())
    start = data.find(media[:4096])
    assert start > 0, "media not found verbatim in the image"
    data[start + offset] ^= 0xFF
    image.write_bytes(bytes(data))


def ewfverify(image: Path) -> bool:
    done = subprocess.run(["ewfverify", "-q", str(image)], capture_output=True, text=True)
    return done.returncode == 0 and "SUCCESS" in done.stdout


# -- Velociraptor ------------------------------------------------------------------------


def _go_time(t: datetime) -> str:
    """Go's RFC 3339 with nanoseconds, as Velociraptor's JSON writes a time."""
    return t.strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


@dataclass
class VrFile:
    path: str  # the endpoint path, Windows style
    data: bytes
    copied: datetime
    #: what the collector recorded; None: the real SHA-256
    recorded_sha256: str | None = None
    in_zip: bool = True
    in_rows: bool = True

    @property
    def components(self) -> list[str]:
        return ["uploads", "auto", *self.path.split("\\")]


T0 = datetime(2026, 11, 3, 9, 15, 0, tzinfo=UTC)


def default_files() -> list[VrFile]:
    return [
        VrFile(r"C:\Users\alice\NTUSER.DAT", b"regf" + bytes(range(256)) * 8, T0),
        VrFile(
            r"C:\Windows\System32\winevt\Logs\Security.evtx",
            b"ElfFile\x00" + b"event " * 500,
            T0.replace(second=7),
        ),
    ]


@dataclass
class Velociraptor:
    files: list[VrFile] = field(default_factory=default_files)
    extra_members: dict[str, bytes] = field(default_factory=dict)
    hostname: str = "WS-ALICE"

    def build(self) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            uploads_rows, result_rows = [], []
            for f in self.files:
                sha = f.recorded_sha256 or hashlib.sha256(f.data).hexdigest()
                if f.in_zip:
                    zf.writestr(member_of(f.components), f.data)
                if not f.in_rows:
                    continue
                uploads_rows.append(
                    {
                        "Timestamp": _go_time(f.copied),
                        "started": str(f.copied),
                        "vfs_path": f.path,
                        "_Components": f.components,
                        "file_size": len(f.data),
                        "uploaded_size": len(f.data),
                        "Type": "",
                    }
                )
                result_rows.append(
                    {
                        "CopiedOnTimestamp": _go_time(f.copied),
                        "SourceFile": f.path,
                        "DestinationFile": f.path,
                        "FileSize": len(f.data),
                        "SourceFileSha256": sha,
                        "Created": "2026-01-02T03:04:05Z",
                        "Changed": "2026-10-30T08:00:00Z",
                        "Modified": "2026-10-30T08:00:00Z",
                        "LastAccessed": "2026-11-02T17:45:12Z",
                    }
                )
            jsonl = "".join(json.dumps(r) + "\n" for r in result_rows)
            zf.writestr("results/Generic.Collectors.File%2FUploads.json", jsonl)
            zf.writestr("uploads.json", "".join(json.dumps(r) + "\n" for r in uploads_rows))
            zf.writestr("uploads.json.index", b"\x00" * 8 * len(uploads_rows))
            info = {"Hostname": self.hostname, "Fqdn": f"{self.hostname}.corp", "OS": "windows"}
            zf.writestr("client_info.json", json.dumps(info | {"Name": "velociraptor"}))
            zf.writestr(
                "collection_context.json",
                json.dumps({"client_id": "C.5ab3f0d1e2", "session_id": "F.CR4SH1", "state": 1}),
            )
            zf.writestr("requests.json", json.dumps({"items": [{"session_id": "F.CR4SH1"}]}))
            zf.writestr(
                "log.json",
                json.dumps({"_ts": 1793000000, "level": "INFO", "message": "Starting"}) + "\n",
            )
            for name, data in self.extra_members.items():
                zf.writestr(name, data)
        return buf.getvalue()


def collector_log(container: bytes) -> str:
    """The collector's log file beside the zip (CreateCollector.yaml: `[level] time msg`)."""
    digest = hashlib.sha256(container).hexdigest()
    return (
        "[INFO] 2026-11-03T09:15:09Z Collecting file C:\\Users\\alice\\NTUSER.DAT\n"
        f"[INFO] 2026-11-03T09:15:10Z Container hash {digest}\n"
    )


# -- KAPE --------------------------------------------------------------------------------

KAPE_STAMP = "2026-11-03T09_15_00_4123987"
KAPE_COPY_HEADER = (
    "CopiedTimestamp,SourceFile,DestinationFile,FileSize,SourceFileSha1,DeferredCopy,"
    "CreatedOnUtc,ModifiedOnUtc,LastAccessedOnUtc,CopyDuration"
)


@dataclass
class KapeFile:
    source: str  # the endpoint path
    data: bytes
    recorded_sha1: str | None = None
    in_zip: bool = True
    in_log: bool = True

    @property
    def member(self) -> str:
        drive, rest = self.source.split(":\\", 1)
        return f"{drive}/{rest.replace(chr(92), '/')}"


def default_kape_files() -> list[KapeFile]:
    return [
        KapeFile(r"C:\Windows\System32\config\SAM", b"regf" + b"\x01" * 700),
        KapeFile(r"C:\Users\alice\AppData\Local\Temp\run.lnk", b"L\x00\x00\x00" + b"\x02" * 90),
    ]


@dataclass
class Kape:
    files: list[KapeFile] = field(default_factory=default_kape_files)
    tdest: str = r"E:\kape\WS-ALICE"

    def build(self) -> bytes:
        rows = [KAPE_COPY_HEADER]
        for f in self.files:
            if not f.in_log:
                continue
            sha1 = f.recorded_sha1 or hashlib.sha1(f.data).hexdigest().upper()
            dest = f"{self.tdest}\\{f.member.replace('/', chr(92))}"
            rows.append(
                f"2026-11-03 09:15:02.1234567,{f.source},{dest},{len(f.data)},{sha1},False,"
                "2026-01-02 03:04:05.0000000,2026-10-30 08:00:00.0000000,"
                "2026-11-02 17:45:12.0000000,00:00:00.0012345"
            )
        skip = [
            "SourceFile,SourceFileSha1,Reason",
            r"C:\Users\alice\NTUSER.DAT.LOG1,"
            + hashlib.sha1(b"dup").hexdigest().upper()
            + ",Deduplicated",
        ]
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            # KAPE writes its CSVs as UTF-8 with a byte order mark, CRLF line ends
            zf.writestr(f"{KAPE_STAMP}_CopyLog.csv", "\ufeff" + "\r\n".join(rows) + "\r\n")
            zf.writestr(f"{KAPE_STAMP}_SkipLog.csv", "\ufeff" + "\r\n".join(skip) + "\r\n")
            zf.writestr(f"{KAPE_STAMP}_ConsoleLog.txt", "KAPE version 1.3.0.2\r\n")
            for f in self.files:
                if f.in_zip:
                    zf.writestr(f.member, f.data)
        return buf.getvalue()
