"""`locard export`: fetch a case's evidence bundle; and the bundle side of `locard verify`."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from cli.config import ConfigError, load_client_config
from cli.output import clean, exit_status, print_reports, reports_json
from verify.bundle import verify_bundle
from verify.policy import VerificationPolicy

#: Below this a bundle verifies in a blink; a progress bar would only flicker.
_PROGRESS_FROM = 32 * 1024 * 1024
_ZIP_MAGIC = b"PK\x03\x04"

Server = Annotated[
    str | None,
    typer.Option(help="The vault's base URL (else LOCARD_SERVER, else the client config file)."),
]
Token = Annotated[
    str | None,
    typer.Option(help="API token: auditor, legal or admin (else LOCARD_TOKEN, else the file)."),
]


def _fail(console: Console, message: str, code: int) -> typer.Exit:
    console.print(Text.assemble(("error: ", "bold red"), clean(message)))
    return typer.Exit(code)


def _server_error(resp: httpx.Response) -> str:
    try:
        doc = json.loads(resp.read())
        detail = doc.get("detail", doc) if isinstance(doc, dict) else doc
    except (ValueError, httpx.HTTPError):
        detail = resp.reason_phrase
    return f"the vault answered {resp.status_code}: {detail}"


def export(
    case: Annotated[str, typer.Argument(help="Case id, e.g. IR-2026-0001.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="The zip file to write.")],
    no_content: Annotated[
        bool, typer.Option("--no-content", help="Proofs only: leave the artifacts' bytes out.")
    ] = False,
    server: Server = None,
    token: Token = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
) -> None:
    """Download a case's evidence bundle (artifacts, custody events, proofs, keys).

    The vault records the export (and an access per artifact) before sending anything.
    The file appears only once complete; verify it offline with `locard verify FILE.zip
    --trusted-key vault.vkey --trusted-tsa-ca tsa-root.pem`.
    Exit status: 0 saved, 1 the vault refused or the transfer broke, 2 bad usage.
    """
    err = Console(stderr=True)
    try:
        config = load_client_config(server=server, token=token)
    except ConfigError as exc:
        raise _fail(err, str(exc), 2) from exc
    for warning in config.warnings:
        err.print(Text.assemble(("warning: ", "yellow"), clean(warning)))
    if output.exists() and not force:
        raise _fail(err, f"{output} exists; pass --force to replace it", 2)
    # Same directory, so the final rename is atomic and a broken transfer leaves nothing.
    part = output.with_name(f".{output.name}.{os.getpid()}.part")
    url = f"{config.server}/v1/cases/{quote(case, safe='')}/bundle"
    params = {"content": "false"} if no_content else {}
    received = 0
    try:
        with (
            httpx.Client(timeout=httpx.Timeout(30.0, read=600.0)) as client,
            client.stream(
                "GET", url, params=params, headers={"Authorization": f"Bearer {config.token}"}
            ) as resp,
        ):
            if resp.status_code != 200:
                raise _fail(err, _server_error(resp), 1)
            event = resp.headers.get("x-locard-export-event", "?")
            with (
                part.open("xb") as fh,
                Progress(
                    TextColumn("exporting {task.description}"),
                    BarColumn(),
                    DownloadColumn(),
                    TransferSpeedColumn(),
                    console=err,
                    transient=True,
                    disable=not err.is_terminal,
                ) as progress,
            ):
                task = progress.add_task(case, total=None)
                for chunk in resp.iter_bytes(1 << 20):
                    fh.write(chunk)
                    received += len(chunk)
                    progress.update(task, completed=received)
                fh.flush()
                os.fsync(fh.fileno())
        if force:
            os.replace(part, output)
        else:
            # link() refuses an existing name: a file that appeared meanwhile is never replaced.
            os.link(part, output)
    except httpx.HTTPError as exc:
        raise _fail(
            err, f"the transfer failed ({type(exc).__name__}: {exc}); nothing saved", 1
        ) from exc
    except OSError as exc:
        raise _fail(
            err, f"cannot write {exc.filename or output}: {exc.strerror or exc}", 2
        ) from exc
    finally:
        with contextlib.suppress(OSError):
            part.unlink()
    err.print(
        f"bundle of case {clean(case)} saved to {output} ({received} bytes); "
        f"the export is ledger event {clean(event)}"
    )
    err.print(
        f"verify it offline: locard verify {output} --trusted-key VAULT.vkey "
        "--trusted-tsa-ca TSA-ROOT.pem"
    )


def is_bundle(path: Path) -> bool:
    """A zip (by name or by its first bytes); receipts are JSON."""
    if path.suffix.lower() == ".zip":
        return True
    try:
        with path.open("rb") as fh:
            return fh.read(4) == _ZIP_MAGIC
    except OSError:
        return False


def verify_bundle_cli(path: Path, policy: VerificationPolicy, *, as_json: bool) -> int:
    """Run `verify.bundle` with a progress bar; print the checklist; return the exit status."""
    console = Console()
    err = Console(stderr=True)
    path.open("rb").close()  # an unreadable path is a usage error (OSError), not a failed check
    big = path.stat().st_size >= _PROGRESS_FROM
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=as_json or not big or not err.is_terminal,
    ) as progress:
        task = progress.add_task("verifying", total=None)

        def _progress(done: int, total: int, stage: str) -> None:
            progress.update(task, completed=done, total=total, description=clean(stage))

        report = verify_bundle(path, policy, progress=_progress)
    if as_json:
        print(reports_json([report]))
    else:
        print_reports(console, [report])
    return exit_status([report])
