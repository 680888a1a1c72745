"""Witness servers (`locard witness-server`'s app) on loopback, for tests and the bench."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from app.witness.server import create_witness_app
from app.witness.service import Witness
from app.witness.state import WitnessState
from custody.cosigner import Cosigner
from custody.signing import NoteSigner
from tests.support.live_server import free_port
from verify.note import NoteVerifier


@dataclass
class RunningWitness:
    url: str
    vkey: str
    witness: Witness
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)
        self.witness.state.close()


def start_witness(
    directory: Path, name: str, log_vkeys: list[str], port: int = 0
) -> RunningWitness:
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "witness.key"
    if not key.exists():
        NoteSigner.generate(name).save(key)
    cosigner = Cosigner(NoteSigner.load(key))
    logs = [NoteVerifier.from_vkey(v) for v in log_vkeys]
    witness = Witness(cosigner, logs, WitnessState(directory / "state.db"))
    port = port or free_port()
    config = uvicorn.Config(
        create_witness_app(witness), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("witness server did not start")
        time.sleep(0.02)
    return RunningWitness(f"http://127.0.0.1:{port}", cosigner.vkey(), witness, server, thread)


@contextmanager
def running_witness(directory: Path, name: str, log_vkeys: list[str]) -> Iterator[RunningWitness]:
    w = start_witness(directory, name, log_vkeys)
    try:
        yield w
    finally:
        w.stop()
