"""The `locard` command."""

from __future__ import annotations

import json
import os
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
from rich.text import Text

from cli.export import export
from cli.keys import keys_app
from cli.output import (
    EXIT_UNUSABLE,
    clean,
    exit_status,
    print_reports,
    reports_json,
)
from cli.renew import renew_command
from cli.report import report_command
from cli.trust import load_witness_policy, parse_validation_time, policy_from_options
from cli.upload import upload_command
from cli.witness import witness
from cli.witness_server import witness_server_app
from verify.errors import MalformedInput, VerificationError
from verify.receipt import MAX_RECEIPT_BYTES
from verify.verifier import Verifier

if TYPE_CHECKING:
    from app.settings import Settings
    from app.vault import Vault

app = typer.Typer(
    name="locard",
    help="Locard: forensic evidence vault with an offline-verifiable custody ledger.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="LOCARD_DATA_DIR", help="Vault data directory."),
]


@app.command()
def init(
    data_dir: DataDir = None,
    origin: Annotated[
        str | None, typer.Option(help="Checkpoint origin (log name), e.g. vault.example.org/ledger")
    ] = None,
) -> None:
    """Create a vault: database, write-once store, signing key and built-in TSA."""
    from app.settings import Settings
    from app.vault import init_vault
    from custody.keyring import VaultExists

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    if origin:
        settings.origin = origin
    try:
        keyring = init_vault(settings)
    except VaultExists as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    # soft_wrap: piped, rich would fold lines at 80 columns, and a folded key or path
    # copied from a log or a script's output is a wrong one
    console.print(f"[green]Vault created[/green] in {settings.data_dir}", soft_wrap=True)
    console.print(f"  origin:      {keyring.origin}", soft_wrap=True)
    console.print(f"  log key:     {keyring.signer.vkey()}", soft_wrap=True)
    tsa_root = settings.keys_dir / "tsa" / "tsa-root.pem"
    console.print(f"  TSA root:    {tsa_root} (self-operated)", soft_wrap=True)


def _read_evidence(path: Path) -> bytes:
    with path.open("rb") as fh:
        data = fh.read(MAX_RECEIPT_BYTES + 1)
    if len(data) > MAX_RECEIPT_BYTES:
        raise MalformedInput(f"{path} is larger than {MAX_RECEIPT_BYTES} bytes: not a receipt")
    return data


def _usage_error(message: str, as_json: bool) -> NoReturn:
    err.print(Text.assemble(("error: ", "bold red"), clean(message)))
    if as_json:
        doc = {"ok": False, "verdict": "unusable", "error": message, "reports": []}
        print(json.dumps(doc, indent=2))
    raise typer.Exit(EXIT_UNUSABLE)


@app.command()
def verify(
    evidence: Annotated[
        Path, typer.Argument(help="A receipt (.json) or an evidence bundle (.zip) to verify.")
    ],
    artifact: Annotated[
        Path | None, typer.Option(help="The artifact file the receipt is about.")
    ] = None,
    trusted_key: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-key",
            help="Vault verifier key: the vkey text, or a file holding it (one per line, "
            "or the vault's /v1/keys JSON). Repeatable.",
        ),
    ] = None,
    trusted_tsa_ca: Annotated[
        list[Path] | None,
        typer.Option("--trusted-tsa-ca", help="PEM/DER root certificate of a trusted TSA."),
    ] = None,
    origin: Annotated[str | None, typer.Option(help="Require this checkpoint origin.")] = None,
    witness_policy: Annotated[
        Path | None,
        typer.Option(
            "--witness-policy",
            help="Require a quorum of witness cosignatures (policy file, see README).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    key_history: Annotated[
        Path | None,
        typer.Option(
            "--key-history",
            help="The vault's log key hand-overs (its /v1/keys JSON): trust the pinned key's "
            "successors from their hand-over on. Bundles carry their own; receipts need this.",
        ),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            "--at",
            help="Judge the RFC 3161 tokens at this time (ISO 8601, e.g. 2035-01-01T00:00Z): "
            "a token whose TSA certificate expired by then passes only through a renewal.",
        ),
    ] = None,
) -> None:
    """Verify evidence offline: no server, no database, no network.

    Pin the vault's log key (--trusted-key, from `locard keys`) and the TSA root
    (--trusted-tsa-ca): without both, a pass only shows that the evidence agrees with itself.

    Exit status: 0 VERIFIED (every check passed, keys pinned); 1 a check failed; 2 the
    verification could not run (unreadable file, unusable --trusted-key or CA); 3 NOT
    VERIFIED (unpinned): every check passed, but --trusted-key or --trusted-tsa-ca was missing.
    """
    try:
        policy = policy_from_options(trusted_key, trusted_tsa_ca, origin, key_history)
        if witness_policy is not None:
            policy = replace(policy, witness_policy=load_witness_policy(witness_policy))
        if at is not None:
            policy = replace(policy, validation_time=parse_validation_time(at))
        verifier = Verifier(policy)
        from cli.export import is_bundle, verify_bundle_cli

        if is_bundle(evidence):
            if artifact is not None:
                raise MalformedInput("--artifact is for receipts: a bundle carries its artifacts")
            raise typer.Exit(verify_bundle_cli(evidence, verifier.policy, as_json=as_json))
        data = _read_evidence(evidence)
        if artifact is not None:
            # Fail before verifying: a mistyped path is not evidence of tampering.
            if not artifact.is_file():
                raise MalformedInput(f"--artifact {artifact}: no such regular file")
            artifact.open("rb").close()
    except OSError as exc:
        where = exc.filename if exc.filename is not None else evidence
        _usage_error(f"cannot read {where}: {exc.strerror or exc}", as_json)
    except VerificationError as exc:
        _usage_error(str(exc), as_json)
    try:
        report = verifier.verify_receipt(data, artifact=artifact)
    except Exception as exc:
        # verify_receipt turns evidence problems into failed checks; reaching this is a bug
        # in the verifier, still reported as "not verified" rather than as a traceback.
        if os.environ.get("LOCARD_DEBUG"):
            raise
        _usage_error(f"internal error ({type(exc).__name__}: {exc}); nothing was verified", as_json)
    status = exit_status([report])
    try:
        if as_json:
            print(reports_json([report]))
        else:
            print_reports(console, [report])
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader (`| head`) went away; the exit status still carries the verdict.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    raise typer.Exit(status)


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8700).")] = None,
) -> None:
    """Run the vault's HTTP API and web pages."""
    import uvicorn

    from app.edge.server import server_config
    from app.main import create_app
    from app.settings import Settings

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    if not (settings.keys_dir / "vault.json").exists():
        err.print(f"[red]error:[/red] no vault in {settings.data_dir}: run `locard init` first")
        raise typer.Exit(1)
    # Opened here, not in the app's lifespan: a vault that refuses to start says why in
    # one line and exits, instead of a traceback from inside the server.
    vault = _open(settings, start=True)
    # uvicorn re-raises the SIGTERM it stopped on once it is done; as an exception here it
    # lets the vault close (and remove its run marker) instead of the process just dying.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    try:
        app_ = create_app(settings, vault=vault)
        uvicorn.Server(server_config(app_, settings, host=host, port=port)).run()
    finally:
        vault.close()


user_app = typer.Typer(help="Manage principals (people and automation) and their tokens.")
app.add_typer(user_app, name="user")
app.add_typer(keys_app, name="keys")


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="Principal name, e.g. alice or edr-bot")],
    role: Annotated[str, typer.Option(help="collector | legal | auditor | admin")],
    public_key: Annotated[
        str | None, typer.Option(help="Ed25519 public key (base64) for signed manifests")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """Create a principal and print its API token (shown once, stored only hashed)."""
    from app.auth.service import get_principal, principal_draft
    from app.errors import AppError
    from app.settings import Settings
    from custody.ledger import Refused
    from custody.watermark import WouldEquivocate

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    vault = _open(settings)
    try:
        # The operator's bootstrap path, recorded as such (actor `locard-cli`). Sealed
        # directly: the CLI is one more sequencer, serialised with servers by the DB lock.
        d, token = principal_draft(
            "locard-cli", "admin", name, role, public_key, ttl_days=settings.token_ttl_days
        )
        vault.ledger.seal([d])
        principal = get_principal(vault.engine, name)
    except (AppError, Refused) as exc:
        err.print(f"[red]error:[/red] {getattr(exc, 'message', exc)}")
        raise typer.Exit(1) from exc
    except WouldEquivocate as exc:
        _refused(exc, "refused to sign")
    finally:
        vault.close()
    err.print(f"created {principal.role} {principal.id!r}; the token is shown only once:")
    print(token)


def _exit_on_signal(signum: int, _frame: object) -> NoReturn:
    raise SystemExit(128 + signum)


def _open(settings: Settings, *, start: bool = False) -> Vault:
    from sqlalchemy.exc import SQLAlchemyError

    from app.vault import open_vault
    from custody.consistency import VaultInconsistent
    from custody.keyring import VaultMissing
    from custody.watermark import MarkFileError
    from storage.errors import StorageError

    try:
        return open_vault(settings, start=start)
    except (VaultMissing, MarkFileError) as exc:
        _refused(exc, "cannot open the vault")
    except VaultInconsistent as exc:
        _refused(exc, "the vault refuses to start")
    except StorageError as exc:
        _refused(exc, f"the store cannot be used ({type(exc).__name__})")
    except SQLAlchemyError as exc:
        # An unreachable or unreadable database: one line, and what to run next.
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        _refused(
            reason,
            "the database cannot be used (`locard audit` checks it, "
            "`locard rebuild --from-store` recreates it)",
        )


def _refused(exc: Exception | str, what: str) -> NoReturn:
    err.print(Text.assemble(("error: ", "bold red"), clean(f"{what}: {exc}")))
    raise typer.Exit(1)


@app.command()
def audit(
    data_dir: DataDir = None,
    content: Annotated[
        bool, typer.Option("--content/--no-content", help="Re-hash every stored artifact.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Server-side audit: archive, database index and evidence bytes against each other."""
    from app.audit import audit_data_dir
    from app.settings import Settings
    from custody.keyring import VaultMissing
    from storage.errors import StorageError

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    try:
        report = audit_data_dir(settings, content=content)
    except VaultMissing as exc:
        _refused(exc, "cannot open the vault")
    except StorageError as exc:
        _refused(exc, f"the store cannot be used ({type(exc).__name__})")
    if as_json:
        print(reports_json([report]))
    else:
        print_reports(console, [report])
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def rebuild(
    data_dir: DataDir = None,
    from_store: Annotated[
        bool, typer.Option("--from-store", help="Replay the write-once archive (required).")
    ] = False,
) -> None:
    """Recreate an empty database from the write-once store alone, then audit it."""
    from app.audit import rebuild as run_rebuild
    from app.settings import Settings
    from custody.keyring import VaultMissing
    from custody.rebuild import IndexNotEmpty

    if not from_store:
        err.print(
            "[red]error:[/red] say --from-store: the archive is the only source to rebuild from"
        )
        raise typer.Exit(2)
    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    try:
        events, report = run_rebuild(settings)
    except (IndexNotEmpty, VaultMissing) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"replayed {events} events from the store")
    print_reports(console, [report])
    raise typer.Exit(0 if report.ok else 1)


@user_app.command("disable")
def user_disable(
    name: Annotated[str, typer.Argument(help="The principal to disable")],
    reason: Annotated[str, typer.Option(help="Why (recorded in the ledger)")],
    data_dir: DataDir = None,
) -> None:
    """Disable a principal: its token stops working at once (a sealed `principal.disabled`)."""
    from app.auth.service import get_principal
    from app.errors import AppError
    from app.events import EventType, draft
    from app.events.preconditions import PrincipalIs
    from app.events.principal_events import Disabled
    from app.settings import Settings
    from custody.ledger import Refused

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    vault = _open(settings)
    try:
        p = get_principal(vault.engine, name)
        if p.disabled:
            err.print(f"{name!r} is already disabled")
            return
        d = draft(
            "locard-cli",
            "admin",
            EventType.principal_disabled,
            Disabled(principal=name, reason=reason),
            preconditions=[PrincipalIs(name, p.role)],
        )
        vault.ledger.seal([d])
    except (AppError, Refused) as exc:
        err.print(f"[red]error:[/red] {getattr(exc, 'message', exc)}")
        raise typer.Exit(1) from exc
    finally:
        vault.close()
    err.print(f"disabled {p.role} {name!r}")


@user_app.command("token")
def user_token(
    name: Annotated[str, typer.Argument(help="An existing principal")],
    data_dir: DataDir = None,
) -> None:
    """Issue a new API token for NAME (the old one stops working). Needed after a rebuild."""
    from app.auth.service import get_principal, issue_token
    from app.errors import AppError
    from app.settings import Settings
    from custody.watermark import WouldEquivocate

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    vault = _open(settings)
    try:
        principal = get_principal(vault.engine, name)
        token = issue_token(vault, principal.id)
    except AppError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    except WouldEquivocate as exc:
        _refused(exc, "refused to sign")
    finally:
        vault.close()
    err.print(f"new token for {principal.role} {principal.id!r}; shown only once:")
    print(token)


# Client commands: they talk to a vault over HTTP and import nothing of the server.
app.command("upload")(upload_command)
app.command("report")(report_command)
app.command("renew")(renew_command)
app.command("export")(export)
app.command("witness")(witness)
app.add_typer(witness_server_app, name="witness-server")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
