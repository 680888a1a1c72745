"""`locard report CASE`: fetch (and so issue) a case's custody report from the vault."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import quote

import httpx
import typer
from rich.console import Console
from rich.markup import escape

_PATHS = {
    "pdf": "report.pdf",
    "json": "report.json",
    "jsonld": "provenance.jsonld",
}
_SUFFIX = {
    "pdf": "custody-report.pdf",
    "json": "custody-report.json",
    "jsonld": "provenance.jsonld",
}

err = Console(stderr=True)


def _detail(resp: httpx.Response) -> str:
    try:
        doc = resp.json()
    except ValueError:
        return resp.reason_phrase
    if isinstance(doc, dict):
        return str(doc.get("detail", doc))
    return str(doc)


def _index(header: str | None) -> int | None:
    """A ledger index or tree size the vault names, as the number it is (null if absent)."""
    if header is None or not header.strip().isdigit():
        return None
    return int(header.strip())


def _write_atomically(path: Path, data: bytes) -> None:
    """A half-written report is worse than none: write aside, then rename into place."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def report_command(
    case: Annotated[str, typer.Argument(help="Case id, e.g. IR-2026-0001.")],
    server: Annotated[
        str,
        typer.Option("--server", envvar="LOCARD_SERVER", help="The vault's base URL."),
    ] = "http://127.0.0.1:8700",
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="LOCARD_TOKEN", help="API token (legal, auditor, admin)."),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="File to write (default: CASE-custody-report.EXT)."),
    ] = None,
    fmt: Annotated[
        Literal["pdf", "json", "jsonld"],
        typer.Option("--format", help="pdf (signed), json, or jsonld (CASE/UCO provenance)."),
    ] = "pdf",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the vault.")] = 120.0,
) -> None:
    """Issue a custody report for CASE and save it. Issuing is recorded in the ledger."""
    if not token:
        err.print("[red]error:[/red] no API token: pass --token or set LOCARD_TOKEN")
        raise typer.Exit(2)
    path = output or Path(f"{case}-{_SUFFIX[fmt]}")
    url = f"{server.rstrip('/')}/v1/cases/{quote(case, safe='')}/{_PATHS[fmt]}"
    try:
        resp = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout)
    except httpx.HTTPError as exc:
        err.print(f"[red]error:[/red] cannot reach {escape(server)}: {escape(str(exc))}")
        raise typer.Exit(1) from exc
    if resp.status_code != 200:
        err.print(
            f"[red]error:[/red] the vault answered {resp.status_code}: {escape(_detail(resp))}"
        )
        raise typer.Exit(1)
    data = resp.content
    digest = hashlib.sha256(data).hexdigest()
    claimed = resp.headers.get("x-locard-report-sha256")
    if claimed and claimed != digest:
        # The body was altered or cut short on the way: do not leave it looking like a report.
        err.print(f"[red]error:[/red] received bytes hash to {digest}, the vault said {claimed}")
        raise typer.Exit(1)
    try:
        _write_atomically(path, data)
    except OSError as exc:
        err.print(f"[red]error:[/red] cannot write {escape(str(path))}: {escape(str(exc))}")
        raise typer.Exit(1) from exc
    summary = {
        "file": str(path),
        "sha256": digest,
        "size": len(data),
        "event_index": _index(resp.headers.get("x-locard-event-index")),
        "checkpoint": _index(resp.headers.get("x-locard-checkpoint")),
    }
    err.print(
        f"saved {escape(str(path))} ({len(data):,} bytes); issuance recorded as ledger event "
        f"{summary['event_index']}, anchored to checkpoint {summary['checkpoint']}"
    )
    print(json.dumps(summary))
