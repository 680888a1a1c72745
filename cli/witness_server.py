"""`locard witness-server`: run a C2SP tlog-witness that cosigns a vault's checkpoints.

`locard witness` watches a vault for one auditor; `locard witness-server` is the service
a vault asks at each seal, under the witness operator's own key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import uvicorn

from app.witness.server import create_witness_app
from app.witness.service import Witness
from app.witness.state import WitnessState
from custody.cosigner import Cosigner
from custody.signing import KeyFileError, NoteSigner
from verify.errors import VerificationError
from verify.note import NoteVerifier

witness_server_app = typer.Typer(
    help="Run a C2SP tlog-witness: cosign checkpoints that extend what it saw before."
)


def _log_keys(logs: list[str]) -> list[NoteVerifier]:
    out: list[NoteVerifier] = []
    for item in logs:
        path = Path(item)
        lines = path.read_text().split() if path.is_file() else [item]
        out.extend(NoteVerifier.from_vkey(v) for v in lines if v)
    return out


@witness_server_app.command("init")
def init(
    name: Annotated[str, typer.Option(help="The witness's key name, e.g. witness.example.org/w1")],
    key: Annotated[Path, typer.Option(help="Where to write the private key (never replaced).")],
) -> None:
    """Create the witness key and print its verifier key (vkey) for vault operators."""
    signer = NoteSigner.generate(name)
    try:
        signer.save(key)
    except KeyFileError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    typer.echo(Cosigner(signer).vkey())


@witness_server_app.command("run")
def run(
    key: Annotated[Path, typer.Option(help="The witness private key (from `init`).")],
    log: Annotated[
        list[str], typer.Option("--log", help="A log's vkey, or a file of vkeys; repeatable.")
    ],
    state: Annotated[Path, typer.Option(help="SQLite file of the checkpoints cosigned.")],
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8710,
) -> None:
    """Serve POST /add-checkpoint and GET /<sha256(origin)>/checkpoint."""
    try:
        cosigner = Cosigner(NoteSigner.load(key))
        logs = _log_keys(log)
    except (KeyFileError, VerificationError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    witness = Witness(cosigner, logs, WitnessState(state))
    typer.echo(f"witness {cosigner.vkey()} for {', '.join(sorted(witness.logs))}", err=True)
    uvicorn.run(create_witness_app(witness), host=host, port=port, log_level="info")
