"""`locard upload`: the collector's side of the resumable upload protocol.

For each file: hash it locally (SHA-256, SHA-1, MD5), open or resume an upload session,
send only the bytes the server does not hold yet, complete, compare the vault's hashes
with ours, verify the receipt offline against the file and save it next to the file.

Resume state lives in a small sidecar, `FILE.locard-upload.json` (upload id, server, case,
SHA-256, size, mtime; never the token). Running the same command again after any failure
(killed process, lost link, reboot) asks the server for its offset and continues there.
The server keeps every byte that reached it, even from a chunk cut off mid-way.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import random
import time
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from cli.config import ENV_TOKEN, ClientConfig, ConfigError, load_client_config
from verify.errors import VerificationError
from verify.manifest import manifest_bytes
from verify.policy import VerificationPolicy
from verify.timestamp import load_pem_or_der_certs
from verify.verifier import Verifier

STATE_SUFFIX = ".locard-upload.json"
RECEIPT_SUFFIX = ".receipt.json"
STATE_FORMAT = "locard-upload-state/1"
SIGNATURE_HEADER = "X-Locard-Manifest-Signature"
ENV_SIGN_KEY_PASSWORD = "LOCARD_SIGN_KEY_PASSWORD"
_READ = 1 << 20
_PIECE = 256 << 10
_RETRY_STATUS = {502, 503, 504}
#: 409s that mean "try again shortly", not "you are wrong"
_RETRY_CODES = {"upload_busy"}

err = Console(stderr=True)


class UploadError(Exception):
    """One file could not be uploaded; the message says why and what to do."""


class FileChanged(UploadError):
    pass


# -- local facts -----------------------------------------------------------------------


@dataclass(frozen=True)
class LocalFile:
    path: Path
    name: str
    size: int
    mtime_ns: int
    sha256: str
    sha1: str
    md5: str


def _stat(path: Path) -> os.stat_result:
    try:
        st = path.stat()
    except OSError as exc:
        raise UploadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not path.is_file():
        raise UploadError(f"{path} is not a regular file")
    return st


def hash_file(path: Path, progress: Progress) -> LocalFile:
    before = _stat(path)
    if before.st_size == 0:
        raise UploadError(f"{path} is empty: zero bytes are not evidence")
    hashers = [
        hashlib.sha256(),
        hashlib.sha1(usedforsecurity=False),
        hashlib.md5(usedforsecurity=False),
    ]
    task = progress.add_task(f"hashing   {path.name}", total=before.st_size)
    size = 0
    try:
        with path.open("rb") as fh:
            while block := fh.read(_READ):
                for h in hashers:
                    h.update(block)
                size += len(block)
                progress.update(task, advance=len(block))
    except OSError as exc:
        raise UploadError(f"cannot read {path}: {exc.strerror or exc}") from exc
    after = _stat(path)
    if size != after.st_size or (before.st_mtime_ns, before.st_size) != (
        after.st_mtime_ns,
        after.st_size,
    ):
        # A file still being written (a dump in progress) would be uploaded half-done.
        raise FileChanged(f"{path} changed while it was being hashed; is it still being written?")
    # The vault stores names NFC-normalised; the signed manifest must name it the same way.
    name = unicodedata.normalize("NFC", path.name)
    sha256, sha1, md5 = (h.hexdigest() for h in hashers)
    return LocalFile(path, name, size, after.st_mtime_ns, sha256, sha1, md5)


def _check_unchanged(local: LocalFile) -> None:
    st = _stat(local.path)
    if (st.st_size, st.st_mtime_ns) != (local.size, local.mtime_ns):
        raise FileChanged(f"{local.path} changed after it was hashed; not uploading it")


# -- resume state ----------------------------------------------------------------------


def state_path(path: Path, out_dir: Path | None) -> Path:
    return (out_dir or path.parent) / (path.name + STATE_SUFFIX)


def _write_json_atomic(target: Path, doc: dict[str, Any]) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    data = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise UploadError(f"cannot write {target}: {exc.strerror or exc}") from exc


@dataclass(frozen=True)
class ResumeState:
    upload_id: str
    server: str
    case: str
    sha256: str
    size: int
    mtime_ns: int

    def matches(self, server: str, case: str, local: LocalFile) -> bool:
        return (self.server, self.case, self.sha256, self.size, self.mtime_ns) == (
            server,
            case,
            local.sha256,
            local.size,
            local.mtime_ns,
        )

    @classmethod
    def load(cls, path: Path) -> ResumeState | None:
        try:
            doc = json.loads(path.read_text())
            if doc.get("format") != STATE_FORMAT:
                return None
            return cls(
                upload_id=str(doc["upload_id"]),
                server=str(doc["server"]),
                case=str(doc["case"]),
                sha256=str(doc["sha256"]),
                size=int(doc["size"]),
                mtime_ns=int(doc["mtime_ns"]),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            err.print(f"[yellow]warning:[/yellow] ignoring unreadable resume state {path}")
            return None

    def save(self, path: Path) -> None:
        doc = {"format": STATE_FORMAT, **dataclasses.asdict(self)}
        _write_json_atomic(path, doc)


# -- talking to the vault --------------------------------------------------------------


def _describe(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    if isinstance(doc, dict) and "detail" in doc:
        detail = doc["detail"]
        if isinstance(detail, list):  # request validation errors: name the fields
            detail = "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', []))}: {d.get('msg')}"
                for d in detail
                if isinstance(d, dict)
            )
        return f"HTTP {resp.status_code} {doc.get('error', '')}: {detail}".strip()
    return f"HTTP {resp.status_code} {resp.reason_phrase}"


def _code(resp: httpx.Response) -> str | None:
    try:
        doc = resp.json()
    except ValueError:
        return None
    return str(doc.get("error")) if isinstance(doc, dict) else None


class VaultClient:
    """The upload API with retries: connection problems and 502/503/504 are retried with
    exponential backoff; anything else the server says is final."""

    def __init__(self, config: ClientConfig, retries: int, say: Callable[[str], None]) -> None:
        self.server = config.server
        self.retries = retries
        self.say = say
        self.http = httpx.Client(
            base_url=config.server,
            headers={"Authorization": f"Bearer {config.token}"},
            timeout=httpx.Timeout(60.0, connect=15.0),
            follow_redirects=False,
        )

    def close(self) -> None:
        self.http.close()

    def backoff(self, attempt: int, why: str) -> None:
        if attempt >= self.retries:
            raise UploadError(f"{why} (gave up after {self.retries} retries)")
        delay = min(30.0, 0.5 * 2**attempt) * random.uniform(0.8, 1.2)
        self.say(f"[yellow]{why}; retrying in {delay:.1f}s[/yellow]")
        time.sleep(delay)

    def call(self, what: str, send: Callable[[], httpx.Response]) -> httpx.Response:
        """Send an idempotent request until it gets a final answer."""
        attempt = 0
        while True:
            try:
                resp = send()
            except httpx.TransportError as exc:
                why = f"{what}: {_transport(exc)}"
            else:
                retry_409 = resp.status_code == 409 and _code(resp) in _RETRY_CODES
                if resp.status_code not in _RETRY_STATUS and not retry_409:
                    if resp.status_code == 401:
                        raise UploadError(
                            f"{what}: the server refused the API token ({_describe(resp)})"
                        )
                    return resp
                why = f"{what}: {_describe(resp)}"
            self.backoff(attempt, why)
            attempt += 1

    def create(self, case: str, meta: dict[str, Any], signature: str | None) -> dict[str, Any]:
        headers = {SIGNATURE_HEADER: signature} if signature else {}
        # Not retried blindly: a lost answer would leave a second session behind. One
        # left behind expires on the server; a retry here would double the traffic.
        try:
            resp = self.http.post(f"/v1/cases/{case}/uploads", json=meta, headers=headers)
        except httpx.TransportError as exc:
            raise UploadError(f"cannot reach {self.server}: {_transport(exc)}") from exc
        if resp.status_code != 201:
            raise UploadError(f"the vault refused the upload: {_describe(resp)}")
        doc: dict[str, Any] = resp.json()
        return doc

    def status(self, upload_id: str) -> dict[str, Any] | None:
        resp = self.call("asking for the upload's offset", lambda: self.http.get(_url(upload_id)))
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise UploadError(f"cannot read upload {upload_id}: {_describe(resp)}")
        doc: dict[str, Any] = resp.json()
        return doc

    def complete(self, upload_id: str, size: int) -> dict[str, Any]:
        # The server re-hashes and stores every byte before answering: allow for it.
        timeout = httpx.Timeout(60.0, connect=15.0, read=300.0 + size / (10 << 20))
        resp = self.call(
            "completing the upload",
            lambda: self.http.post(f"{_url(upload_id)}/complete", timeout=timeout),
        )
        if resp.status_code not in (200, 201):
            raise UploadError(f"the vault did not accept the upload: {_describe(resp)}")
        doc: dict[str, Any] = resp.json()
        return doc

    def abandon(self, upload_id: str) -> None:
        with contextlib.suppress(httpx.TransportError):  # the server expires it anyway
            self.http.delete(_url(upload_id))


def _url(upload_id: str) -> str:
    return f"/v1/uploads/{upload_id}"


def _transport(exc: httpx.TransportError) -> str:
    return str(exc) or type(exc).__name__


def _pieces(
    local: LocalFile, offset: int, length: int, progress: Progress, task: TaskID
) -> Iterator[bytes]:
    """The bytes [offset, offset+length) of the file, advancing the bar as they go out."""
    with local.path.open("rb") as fh:
        fh.seek(offset)
        left = length
        while left:
            block = fh.read(min(_PIECE, left))
            if not block:
                raise FileChanged(f"{local.path} got shorter while it was being uploaded")
            left -= len(block)
            yield block
            progress.update(task, advance=len(block))


def send_rest(
    vault: VaultClient,
    local: LocalFile,
    upload_id: str,
    offset: int,
    chunk: int,
    progress: Progress,
) -> None:
    """PATCH from `offset` to the end. After a failure the server's offset is the truth:
    it kept every byte that reached it, so we ask and continue from there."""
    task = progress.add_task(f"uploading {local.path.name}", total=local.size, completed=offset)
    attempt = 0
    try:
        while offset < local.size:
            _check_unchanged(local)
            length = min(chunk, local.size - offset)
            try:
                resp = vault.http.patch(
                    _url(upload_id),
                    content=_pieces(local, offset, length, progress, task),
                    headers={
                        "Upload-Offset": str(offset),
                        "Content-Length": str(length),
                        "Content-Type": "application/offset+octet-stream",
                    },
                )
            except httpx.TransportError as exc:
                why = f"sending bytes at {offset}: {_transport(exc)}"
            else:
                if resp.status_code == 200:
                    new = int(resp.json()["offset"])
                    if new > offset:
                        attempt = 0
                    offset = new
                    progress.update(task, completed=offset)
                    continue
                code = _code(resp)
                if resp.status_code == 409 and code == "offset_mismatch":
                    # We are out of step (an earlier answer was lost): take the server's word.
                    offset = int(resp.json()["offset"])
                    progress.update(task, completed=offset)
                    attempt += 1
                    if attempt > vault.retries:
                        raise UploadError(f"the server keeps moving the offset: {_describe(resp)}")
                    continue
                if resp.status_code not in _RETRY_STATUS and code not in _RETRY_CODES:
                    raise UploadError(f"the vault refused bytes at {offset}: {_describe(resp)}")
                why = f"sending bytes at {offset}: {_describe(resp)}"
            vault.backoff(attempt, why)
            attempt += 1
            doc = vault.status(upload_id)
            if doc is None or doc.get("state") != "open":
                state = "gone" if doc is None else doc.get("state")
                raise UploadError(f"upload {upload_id} is {state} on the server")
            offset = int(doc["offset"])
            progress.update(task, completed=offset)
    finally:
        progress.remove_task(task)


# -- signing and checking --------------------------------------------------------------


def load_sign_key(path: Path) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    password = os.environ.get(ENV_SIGN_KEY_PASSWORD)
    try:
        key = load_pem_private_key(
            path.read_bytes(), password=password.encode() if password else None
        )
    except OSError as exc:
        raise ConfigError(f"cannot read signing key {path}: {exc.strerror or exc}") from exc
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"{path} is not a usable PEM private key ({exc}); encrypted keys need "
            f"{ENV_SIGN_KEY_PASSWORD}"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{path} is not an Ed25519 private key")
    return key


def sign_manifest(key: Any, case: str, local: LocalFile) -> str:
    signature: bytes = key.sign(manifest_bytes(case, local.name, local.sha256))
    return base64.b64encode(signature).decode()


def check_server_hashes(local: LocalFile, artifact: dict[str, Any]) -> None:
    for name in ("size", "sha256", "sha1", "md5"):
        ours, theirs = getattr(local, name), artifact.get(name)
        if ours != theirs:
            raise UploadError(
                f"the vault recorded {name} {theirs} but {local.path} has {ours}; "
                "the receipt was not saved"
            )


def _receipt_target(path: Path, out_dir: Path | None) -> Path:
    """FILE.receipt.json, or FILE.receipt.N.json if that exists: an older receipt is
    evidence of an earlier upload and is never overwritten."""
    base = (out_dir or path.parent) / (path.name + RECEIPT_SUFFIX)
    n = 2
    target = base
    while target.exists():
        target = base.with_name(f"{path.name}.receipt.{n}.json")
        n += 1
    return target


# -- one file --------------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    case: str
    chunk: int
    out_dir: Path | None
    sign_key: Any
    verifier: Verifier
    meta: dict[str, str]


def upload_one(vault: VaultClient, opts: Options, path: Path, progress: Progress) -> Path:
    """Upload one file; returns where its receipt was saved."""
    say = progress.console.print
    sidecar = state_path(path, opts.out_dir)
    if not os.access(sidecar.parent, os.W_OK):
        raise UploadError(
            f"cannot write resume state and receipt in {sidecar.parent} (use --out-dir)"
        )
    local = hash_file(path, progress)
    state = ResumeState.load(sidecar)
    doc: dict[str, Any] | None = None
    if state is not None and not state.matches(vault.server, opts.case, local):
        say(f"{path.name}: resume state is for another file version, server or case; starting over")
        if state.server == vault.server:
            vault.abandon(state.upload_id)
        state = None
    if state is not None:
        doc = vault.status(state.upload_id)
        if doc is None or doc.get("state") not in ("open", "completed"):
            why = "unknown to the server" if doc is None else f"{doc.get('state')}"
            say(f"{path.name}: earlier upload {state.upload_id} is {why}; starting over")
            state, doc = None, None
        else:
            say(f"{path.name}: resuming upload {state.upload_id} at byte {doc['offset']}")
    if state is None or doc is None:
        _check_unchanged(local)
        meta: dict[str, Any] = {
            **opts.meta,
            "file_name": local.name,
            "size": local.size,
            "sha256": local.sha256,
        }
        signature = sign_manifest(opts.sign_key, opts.case, local) if opts.sign_key else None
        doc = vault.create(opts.case, meta, signature)
        state = ResumeState(
            upload_id=str(doc["upload_id"]),
            server=vault.server,
            case=opts.case,
            sha256=local.sha256,
            size=local.size,
            mtime_ns=local.mtime_ns,
        )
        state.save(sidecar)
    if doc.get("state") == "open":
        send_rest(vault, local, state.upload_id, int(doc["offset"]), opts.chunk, progress)
    _check_unchanged(local)
    try:
        result = vault.complete(state.upload_id, local.size)
    except UploadError:
        after = vault.status(state.upload_id)
        if after is None or after.get("state") not in ("open", "completed"):
            sidecar.unlink(missing_ok=True)  # nothing left to resume
        raise
    artifact, receipt = result["artifact"], result["receipt"]
    check_server_hashes(local, artifact)
    report = opts.verifier.verify_receipt(receipt, artifact=path)
    if not report.ok:
        first = report.first_failure
        what = f"{first.name}: {first.detail}" if first else "no checks ran"
        raise UploadError(f"the vault's receipt does not verify ({what}); it was not saved")
    for warning in report.warnings:
        say(f"[dim]{path.name}: {warning}[/dim]")
    target = _receipt_target(path, opts.out_dir)
    _write_json_atomic(target, receipt)
    sidecar.unlink(missing_ok=True)
    say(
        f"[green]✔[/green] {path.name} → {artifact['id']} in {opts.case} "
        f"(sha256 {local.sha256}, ledger entry {receipt['leaf_index']}); receipt {target}"
    )
    return target


# -- the command -----------------------------------------------------------------------


def _trusted_key(value: str) -> str:
    path = Path(value)
    return path.read_text().strip() if path.is_file() else value.strip()


def _policy(trusted_key: list[str] | None, trusted_tsa_ca: list[Path] | None) -> Verifier:
    try:
        roots: list[bytes] = []
        for ca in trusted_tsa_ca or []:
            roots.extend(load_pem_or_der_certs(ca.read_bytes()))
        keys = tuple(_trusted_key(k) for k in trusted_key or [])
    except (OSError, VerificationError) as exc:
        raise ConfigError(f"cannot load trust anchors: {exc}") from exc
    return Verifier(VerificationPolicy(trusted_log_keys=keys, trusted_tsa_roots=tuple(roots)))


def upload_command(
    files: Annotated[
        list[Path], typer.Argument(help="Artifact files to upload.", show_default=False)
    ],
    case: Annotated[str, typer.Option("--case", help="Case id, e.g. IR-2026-0001.")],
    server: Annotated[
        str | None, typer.Option(help="Vault URL (else LOCARD_SERVER, else the config file).")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help=f"API token (else {ENV_TOKEN}, else the config file). Prefer the variable: "
            "options are visible to other users in the process list."
        ),
    ] = None,
    sign_key: Annotated[
        Path | None,
        typer.Option(help="Ed25519 private key (PEM) to sign each upload manifest with."),
    ] = None,
    chunk_mib: Annotated[int, typer.Option(min=1, max=1024, help="Bytes per request, in MiB.")] = 8,
    trusted_key: Annotated[
        list[str] | None,
        typer.Option(help="Vault verifier key (vkey text or file) the receipt must match."),
    ] = None,
    trusted_tsa_ca: Annotated[
        list[Path] | None,
        typer.Option(help="Root certificate (PEM/DER) of a TSA the receipt must chain to."),
    ] = None,
    retries: Annotated[
        int, typer.Option(min=0, max=100, help="Retries on connection errors, per step.")
    ] = 8,
    out_dir: Annotated[
        Path | None,
        typer.Option(help="Where to keep receipts and resume state (default: next to each file)."),
    ] = None,
    media_type: Annotated[str | None, typer.Option(help="Media type of the artifacts.")] = None,
    source_host: Annotated[str | None, typer.Option(help="Host the artifacts came from.")] = None,
    collection_method: Annotated[str | None, typer.Option(help="How they were collected.")] = None,
    collection_tool: Annotated[str | None, typer.Option(help="Tool that collected them.")] = None,
    notes: Annotated[str | None, typer.Option(help="Free-text notes for the record.")] = None,
    collector_log: Annotated[
        Path | None,
        typer.Option(
            help="A Velociraptor collector's log: its 'Container hash' must match the container."
        ),
    ] = None,
    as_file: Annotated[
        bool,
        typer.Option(
            "--as-file",
            help="Upload collector containers (Velociraptor, KAPE, E01) as one plain file "
            "instead of item by item.",
        ),
    ] = False,
) -> None:
    """Upload evidence: hash locally, stream with resume, verify and save each receipt.

    A collector's container (Velociraptor offline collection, zipped KAPE output, E01)
    is recognised and ingested item by item, each checked against the collector's hash.

    Interrupted? Run the same command again: it continues where the server stopped.
    """
    try:
        config = load_client_config(server=server, token=token, sign_key=sign_key)
        key = load_sign_key(config.sign_key) if config.sign_key else None
        verifier = _policy(trusted_key, trusted_tsa_ca)
        if out_dir is not None and not out_dir.is_dir():
            raise ConfigError(f"--out-dir {out_dir} is not a directory")
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from None
    for warning in config.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}")
    meta = {
        k: v
        for k, v in {
            "media_type": media_type,
            "source_host": source_host,
            "collection_method": collection_method,
            "collection_tool": collection_tool,
            "notes": notes,
        }.items()
        if v
    }
    from cli.collection import container_kind, upload_collection  # imports this module

    opts = Options(case, chunk_mib << 20, out_dir, key, verifier, meta)
    failed: list[Path] = []
    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    vault = VaultClient(config, retries, lambda m: progress.console.print(m))
    try:
        with progress:
            for path in files:
                try:
                    kind = None if as_file else container_kind(path)
                    if kind is not None:
                        upload_collection(
                            vault,
                            case,
                            path,
                            kind,
                            collector_log,
                            verifier,
                            out_dir,
                            progress.console.print,
                        )
                    else:
                        upload_one(vault, opts, path, progress)
                except UploadError as exc:
                    failed.append(path)
                    progress.console.print(f"[red]✘ {path}:[/red] {exc}")
                except (httpx.HTTPError, OSError, ValueError, KeyError, TypeError) as exc:
                    # A server answering nonsense, or the disk failing: still one clear
                    # line per file, and the other files still go.
                    failed.append(path)
                    progress.console.print(
                        f"[red]✘ {path}:[/red] unexpected {type(exc).__name__}: {exc}"
                    )
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/yellow]: run the same command again to resume")
        raise typer.Exit(130) from None
    finally:
        vault.close()
    if failed:
        err.print(f"[red]{len(failed)} of {len(files)} file(s) not uploaded[/red]")
        raise typer.Exit(1)
