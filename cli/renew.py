"""`locard renew`: re-timestamp checkpoint tokens and issued reports before they expire."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

console = Console()
err = Console(stderr=True)


def renew_command(
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", envvar="LOCARD_DATA_DIR", help="Vault data directory."),
    ] = None,
    renew_all: Annotated[
        bool, typer.Option("--all", help="Renew everything now, due or not.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Add an archive timestamp to the checkpoint tokens and issued reports that are due:
    their newest TSA certificate expires within LOCARD_RENEW_BEFORE_DAYS, their hash is
    weak, or they rest on the vault's own TSA while an external one is configured.

    Exit status: 0 renewed what was due (or nothing was); 1 something could not be renewed.
    """
    from app.renewal.service import renew
    from app.settings import Settings
    from cli.main import _open
    from verify.errors import TimestampError

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    vault = _open(settings)
    try:
        run = renew(vault, lambda d: vault.ledger.seal([d])[0].event.index, force=renew_all)
    except (TimestampError, OSError, ValueError) as exc:
        # The renewer could not be asked for its certificates (down, or refusing): nothing
        # was renewed, and the next pass tries again.
        err.print(f"[red]error:[/red] no renewal: {exc}")
        raise typer.Exit(1) from exc
    finally:
        vault.close()
    if as_json:
        doc = {
            "renewer": run.renewer.authority.name,
            "self_operated": run.renewer.self_operated,
            "tokens": None
            if run.tokens is None
            else {
                "seq": run.tokens.seq,
                "key": run.tokens.key,
                "leaves": run.tokens.leaves,
                "reasons": list(run.tokens.reasons),
                "event_index": run.tokens.event_index,
            },
            "reports": [
                {
                    "case": r.case,
                    "issued_sha256": r.issued_sha256,
                    "version": r.version,
                    "sha256": r.sha256,
                    "reason": r.reason,
                    "event_index": r.event_index,
                }
                for r in run.reports
            ],
            "failures": run.failures,
            "warnings": run.warnings,
        }
        print(json.dumps(doc, indent=2))
    else:
        console.print(f"renewer: {run.renewer.description}")
        if run.tokens is None:
            console.print("checkpoint tokens: none due")
        else:
            t = run.tokens
            console.print(
                f"checkpoint tokens: renewal {t.seq} over {t.leaves} token(s) "
                f"({'; '.join(t.reasons)}), event {t.event_index}, stored as {t.key}"
            )
        for r in run.reports:
            console.print(
                f"report {r.case} {r.issued_sha256[:16]}…: version {r.version} "
                f"(SHA-256 {r.sha256}), {r.reason}, event {r.event_index}"
            )
        if not run.reports:
            console.print("reports: none due")
        for w in run.warnings:
            err.print(f"[yellow]warning:[/yellow] {w}")
        for f in run.failures:
            err.print(f"[red]not renewed:[/red] {f}")
    raise typer.Exit(1 if run.failures else 0)
