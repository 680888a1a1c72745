"""`locard keys`: the vault's public keys, and custody of the offline root."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

keys_app = typer.Typer(
    help="The vault's keys: print the public ones, export and remove the offline root.",
    invoke_without_command=True,
)
console = Console()
err = Console(stderr=True)

DataDir = Annotated[
    Path | None,
    typer.Option("--data-dir", envvar="LOCARD_DATA_DIR", help="Vault data directory."),
]


def _keys_dir(data_dir: Path | None) -> Path:
    from app.settings import Settings

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    return settings.keys_dir


@keys_app.callback()
def keys(ctx: typer.Context, data_dir: DataDir = None) -> None:
    """Print the vault's log key (what auditors pin) when no subcommand is given."""
    if ctx.invoked_subcommand is not None:
        return
    from custody.keyring import Keyring, VaultMissing

    try:
        keyring = Keyring.load(_keys_dir(data_dir))
    except VaultMissing as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(keyring.signer.vkey(), soft_wrap=True)  # piped: one line, never folded


@keys_app.command("export-root")
def export_root(
    out: Annotated[Path, typer.Option("--out", help="New file for the root CA key (0600).")],
    data_dir: DataDir = None,
) -> None:
    """Copy the root CA key out of the vault, to keep it offline."""
    from custody import pki
    from custody.keyring import TSA_DIR

    try:
        digest = pki.export_root(_keys_dir(data_dir) / TSA_DIR, out)
    except FileExistsError as exc:
        err.print(f"[red]error:[/red] {out} exists; refusing to overwrite it")
        raise typer.Exit(1) from exc
    except (pki.PKIError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print(f"root CA key written to {out} (sha256 {digest})")
    console.print("keep it offline, then run `locard keys remove-root`")


@keys_app.command("remove-root")
def remove_root(
    data_dir: DataDir = None,
    force: Annotated[
        bool, typer.Option("--force", help="Remove even without a recorded export.")
    ] = False,
) -> None:
    """Delete the root CA key from the vault; the issuing CA carries on without it."""
    from custody import pki
    from custody.keyring import TSA_DIR

    try:
        pki.remove_root(_keys_dir(data_dir) / TSA_DIR, force=force)
    except (pki.PKIError, OSError) as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    console.print("root CA key removed; the vault keeps issuing with its issuing CA")


@keys_app.command("rotate")
def rotate(
    reason: Annotated[str, typer.Option(help="Why the key is rotated (sealed in the ledger).")],
    data_dir: DataDir = None,
) -> None:
    """Replace the log signing key: the hand-over is sealed under the old key, and every
    later checkpoint is signed by the new one. Stop the servers sharing the vault first."""
    from app.events import EventType, draft
    from app.events.key_events import KeyRotated
    from app.settings import Settings
    from cli.main import _open
    from custody import rotation
    from custody.ledger import Refused
    from custody.signing import KeyFileError

    settings = Settings(data_dir=data_dir) if data_dir else Settings()
    vault = _open(settings)
    try:
        old = vault.keyring.signer
        try:
            new, signature = rotation.prepare(settings.keys_dir, old)
        except (rotation.RotationError, KeyFileError) as exc:
            err.print(f"[red]error:[/red] {exc}")
            raise typer.Exit(1) from exc
        body = KeyRotated(
            old_key=old.vkey(), new_key=new.vkey(), new_key_signature=signature, reason=reason
        )
        try:
            [sealed] = vault.ledger.seal(
                [draft("locard-cli", "admin", EventType.key_rotated, body)]
            )
        except Refused as exc:
            (settings.keys_dir / rotation.NEXT_KEY).unlink()  # it signed nothing
            err.print(f"[red]error:[/red] {getattr(exc, 'message', exc)}")
            raise typer.Exit(1) from exc
        history = rotation.complete(settings.keys_dir, old, new, sealed)
    finally:
        vault.close()
    console.print(new.vkey())
    err.print(
        f"log key rotated at size {sealed.checkpoint.size}; {len(history)} hand-over(s) in "
        f"{settings.keys_dir / rotation.HISTORY_FILE} and at GET /v1/keys"
    )
