"""The `locard` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from cli.output import print_reports, reports_json
from verify.errors import VerificationError
from verify.receipt import VerificationPolicy, Verifier
from verify.timestamp import load_pem_or_der_certs

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
    console.print(f"[green]Vault created[/green] in {settings.data_dir}")
    console.print(f"  origin:      {keyring.origin}")
    console.print(f"  log key:     {keyring.signer.vkey()}")
    console.print(f"  TSA root:    {settings.keys_dir / 'tsa' / 'tsa-root.pem'} (self-operated)")


@app.command()
def keys(data_dir: DataDir = None) -> None:
    """Print the vault's public keys (what auditors pin)."""
    from app.settings import Settings
    from custody.keyring import Keyring, VaultMissing

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    try:
        keyring = Keyring.load(settings.keys_dir)
    except VaultMissing as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(keyring.signer.vkey())


def _read_trusted_key(value: str) -> str:
    path = Path(value)
    if path.is_file():
        return path.read_text().strip()
    return value.strip()


@app.command()
def verify(
    evidence: Annotated[Path, typer.Argument(help="A receipt (.json) to verify offline.")],
    artifact: Annotated[
        Path | None, typer.Option(help="The artifact file the receipt is about.")
    ] = None,
    trusted_key: Annotated[
        list[str] | None,
        typer.Option("--trusted-key", help="Vault verifier key (vkey text or a file holding it)."),
    ] = None,
    trusted_tsa_ca: Annotated[
        list[Path] | None,
        typer.Option("--trusted-tsa-ca", help="PEM/DER root certificate of a trusted TSA."),
    ] = None,
    origin: Annotated[str | None, typer.Option(help="Require this checkpoint origin.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Verify evidence with no server, no database and no network. Exit 0 only if all checks pass."""
    try:
        roots: list[bytes] = []
        for ca in trusted_tsa_ca or []:
            roots.extend(load_pem_or_der_certs(ca.read_bytes()))
        policy = VerificationPolicy(
            trusted_log_keys=tuple(_read_trusted_key(k) for k in trusted_key or []),
            trusted_tsa_roots=tuple(roots),
            origin=origin,
        )
        data = evidence.read_bytes()
    except (OSError, VerificationError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    report = Verifier(policy).verify_receipt(data, artifact=artifact)
    if as_json:
        print(reports_json([report]))
    else:
        print_reports(console, [report])
    raise typer.Exit(0 if report.ok else 1)


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8700).")] = None,
) -> None:
    """Run the vault's HTTP API and web pages."""
    import uvicorn

    from app.main import create_app
    from app.settings import Settings

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    if not (settings.keys_dir / "vault.json").exists():
        err.print(f"[red]error:[/red] no vault in {settings.data_dir}: run `locard init` first")
        raise typer.Exit(1)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_level="info",
        timeout_graceful_shutdown=10,
    )


user_app = typer.Typer(help="Manage principals (people and automation) and their tokens.")
app.add_typer(user_app, name="user")


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
    from app.auth.service import create_principal
    from app.errors import AppError
    from app.settings import Settings
    from custody import migrations
    from custody.db import make_engine

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    engine = make_engine(settings.db_url)
    try:
        migrations.upgrade(engine)
        principal, token = create_principal(engine, name, role, public_key)
    except AppError as exc:
        err.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    finally:
        engine.dispose()
    err.print(f"created {principal.role} {principal.id!r}; the token is shown only once:")
    print(token)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
