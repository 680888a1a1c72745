"""`locard upload` of a collector's container: a Velociraptor offline collection, a
zipped KAPE target output or an E01 image goes to the collections endpoint, which
ingests every item as its own artifact and checks each against the collector's hash.

The container is streamed (never read whole) and hashed on the way; the vault's hash of
what it received must equal ours, and the receipt of the closing event must verify.
Given the collector's log (`--collector-log`), the `Container hash` Velociraptor wrote
there is sent, so that a container changed after collection is refused.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx

from cli.upload import RECEIPT_SUFFIX, UploadError, VaultClient, _describe, _write_json_atomic
from verify.verifier import Verifier

EWF_SIGNATURE = b"EVF\x09\x0d\x0a\xff\x00"
_READ = 1 << 20
_LABEL = {
    "velociraptor": "a Velociraptor offline collection",
    "kape": "a KAPE target output",
    "ewf": "an EWF (E01) image",
    "kape-folder": "a KAPE target output folder (zipped as sent)",
    "ewf-split": "a split EWF image (its segments zipped as sent)",
}
#: how often the vault is asked how far the ingest has got
POLL_S = 2.0
_SEGMENT = re.compile(r"^(?P<stem>.+)\.[Ee](?P<n>[0-9]{2}|[A-Za-z]{2})$")


def segments_of(first: Path) -> list[Path]:
    """The segment files of the split image whose first segment is `first` (NAME.E01):
    NAME.E02, NAME.E03, … beside it, in order, as long as they run on."""
    m = _SEGMENT.match(first.name)
    if m is None or m["n"] != "01":
        return [first]
    out = [first]
    for n in range(2, 100 + 26 * 26):
        ext = f"{n:02d}" if n < 100 else chr(65 + (n - 100) // 26) + chr(65 + (n - 100) % 26)
        found = [p for p in (first.with_name(f"{m['stem']}.{c}{ext}") for c in "Ee") if p.is_file()]
        if not found:
            break
        out.append(found[0])
    return out


def zip_segments(segments: list[Path], dest: Path) -> Path:
    """A split image's segments as one zip (stored: the vault reads them as they are)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for p in segments:
            zf.write(p, p.name)
    return dest


def zip_folder(folder: Path, dest: Path) -> Path:
    """The folder as a zip of its files (stored, not compressed: KAPE's copies are what
    the copy log hashed, and re-compressing them would only cost time)."""
    with zipfile.ZipFile(dest, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for p in sorted(folder.rglob("*")):
            if p.is_file() and not p.is_symlink():
                zf.write(p, p.relative_to(folder).as_posix())
    return dest


_LOGGED = re.compile(r"Container hash ([0-9a-fA-F]{64})")


def container_kind(path: Path) -> str | None:
    """'velociraptor', 'kape' or 'ewf' when `path` is a collector's container, 'kape-folder'
    for a KAPE target output folder (its copy log at the top)."""
    if path.is_dir():
        return "kape-folder" if any(path.glob("*_[Cc]opy[Ll]og.csv")) else None
    try:
        with path.open("rb") as fh:
            head = fh.read(len(EWF_SIGNATURE))
        if head.startswith(EWF_SIGNATURE):
            return "ewf-split" if len(segments_of(path)) > 1 else "ewf"
        if not head.startswith(b"PK\x03\x04"):
            return None
        with zipfile.ZipFile(path) as zf:
            names = {n.lower() for n in zf.namelist()}
    except (OSError, zipfile.BadZipFile):
        return None
    if "collection_context.json" in names or {"uploads.json", "metadata.json"} & names:
        return "velociraptor"
    if any(n.endswith("_copylog.csv") for n in names):
        return "kape"
    return None


def logged_container_hash(log: Path) -> str:
    """The last `Container hash` line of a Velociraptor collector's log."""
    try:
        found = _LOGGED.findall(log.read_text(errors="replace"))
    except OSError as exc:
        raise UploadError(f"cannot read the collector log {log}: {exc.strerror or exc}") from exc
    if not found:
        raise UploadError(f"{log} has no 'Container hash' line")
    return str(found[-1]).lower()


def upload_collection(
    vault: VaultClient,
    case: str,
    path: Path,
    kind: str,
    collector_log: Path | None,
    verifier: Verifier,
    out_dir: Path | None,
    say: Callable[[str], None],
) -> Path:
    if kind == "kape-folder":
        with tempfile.TemporaryDirectory(prefix="locard-kape-") as tmp:
            zipped = zip_folder(path, Path(tmp) / f"{path.name}.zip")
            say(f"{path.name}: {_LABEL[kind]}")
            return upload_collection(
                vault, case, zipped, "kape", collector_log, verifier, out_dir or path.parent, say
            )
    if kind == "ewf-split":
        segments = segments_of(path)
        with tempfile.TemporaryDirectory(prefix="locard-ewf-") as tmp:
            zipped = zip_segments(segments, Path(tmp) / f"{path.name}.zip")
            say(f"{path.name}: {_LABEL[kind]}: {', '.join(p.name for p in segments)}")
            return upload_collection(
                vault, case, zipped, "ewf", collector_log, verifier, out_dir or path.parent, say
            )
    params = {"file_name": path.name}
    if collector_log is not None:
        params["container_sha256"] = logged_container_hash(collector_log)
    local = hashlib.sha256()
    poller = _Poller(vault, case, say)

    def body() -> Iterator[bytes]:
        with path.open("rb") as fh:
            while block := fh.read(_READ):
                local.update(block)
                yield block
        poller.start(local.hexdigest())  # all sent: the vault is ingesting it now

    say(f"{path.name}: {_LABEL[kind]}; sending it for item-by-item ingest")
    try:
        resp = vault.http.post(
            f"/v1/cases/{case}/collections",
            params=params,
            content=body(),
            headers={"Content-Length": str(path.stat().st_size)},
            timeout=httpx.Timeout(None, connect=15.0),
        )
    except httpx.TransportError as exc:
        raise UploadError(
            f"cannot send {path}: {exc}; run the same command again: the vault resumes the "
            "collection where it stopped"
        ) from exc
    finally:
        poller.stop()
    if resp.status_code != 201:
        raise UploadError(f"the vault refused the container: {_describe(resp)}")
    doc: dict[str, Any] = resp.json()
    container = doc["container"]
    if container["sha256"] != local.hexdigest():
        raise UploadError(
            f"the vault holds SHA-256 {container['sha256']} for the container, "
            f"but {path} hashes to {local.hexdigest()}"
        )
    report = verifier.verify_receipt(doc["receipt"])
    if not report.ok:
        first = report.first_failure
        what = f"{first.name}: {first.detail}" if first else "no checks ran"
        raise UploadError(f"the vault's receipt does not verify ({what}); it was not saved")
    target = (out_dir or path.parent) / (path.name + RECEIPT_SUFFIX)
    _write_json_atomic(target, doc["receipt"])
    for m in doc["mismatches"]:
        detail = f" ({m['algorithm']}: collector {m['recorded']}, vault {m['computed']})"
        say(
            f"[yellow]mismatch[/yellow] {m['kind']}: {m['name']}"
            + (detail if m.get("algorithm") else "")
        )
    if doc.get("resumed"):
        say(f"resumed: {doc['resumed']} file(s) were sealed by an interrupted earlier run")
    say(
        f"[green]✔[/green] {path.name} → {container['id']} in {case}: "
        f"{len(doc['items'])} item(s), {len(doc['provenance'])} provenance file(s), "
        f"{len(doc['mismatches'])} mismatch(es), {doc.get('bytes', 0):,} bytes; receipt {target}"
    )
    return target


def _mb(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


class _Poller:
    """Asks the vault how far the collection has got while it ingests (the POST answers
    only at the end), and says so when it moved."""

    def __init__(self, vault: VaultClient, case: str, say: Callable[[str], None]) -> None:
        self.vault, self.case, self.say = vault, case, say
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, sha256: str) -> None:
        self._thread = threading.Thread(target=self._run, args=(sha256,), daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _run(self, sha256: str) -> None:
        last: tuple[Any, ...] = ()
        http = self.vault.http
        with httpx.Client(base_url=http.base_url, headers=http.headers, timeout=10) as c:
            while not self._stop.wait(POLL_S):
                try:
                    r = c.get(
                        f"/v1/cases/{self.case}/collections/progress", params={"sha256": sha256}
                    )
                except httpx.TransportError:
                    continue
                if r.status_code != 200:
                    continue
                p = r.json()
                now = (p["files_done"], p["files_total"], p["bytes_done"], p["bytes_total"])
                if p["state"] == "running" and now != last and p["files_total"]:
                    last = now
                    self.say(
                        f"  {p['files_done']:,}/{p['files_total']:,} files, "
                        f"{_mb(p['bytes_done'])}/{_mb(p['bytes_total'])} sealed"
                        + (f" ({p['resumed']:,} from an earlier run)" if p["resumed"] else "")
                    )
