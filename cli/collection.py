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
}


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
            return "ewf"
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
    params = {"file_name": path.name}
    if collector_log is not None:
        params["container_sha256"] = logged_container_hash(collector_log)
    local = hashlib.sha256()

    def body() -> Iterator[bytes]:
        with path.open("rb") as fh:
            while block := fh.read(_READ):
                local.update(block)
                yield block

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
        raise UploadError(f"cannot send {path}: {exc}") from exc
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
    say(
        f"[green]✔[/green] {path.name} → {container['id']} in {case}: "
        f"{len(doc['items'])} item(s), {len(doc['provenance'])} provenance file(s), "
        f"{len(doc['mismatches'])} mismatch(es); receipt {target}"
    )
    return target
