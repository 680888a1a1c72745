"""`locard witness`: remember the vault's signed tree head and check that it only ever grows.

Each run fetches the latest checkpoint, verifies its signature with the pinned key, asks the
vault for a consistency proof from the checkpoint saved last time, verifies it offline with
`verify/`, and only then saves the new checkpoint. A vault that rewrites, forks or truncates
its history cannot produce that proof, so the run fails and the state keeps the last good
checkpoint as evidence. (One witness alone cannot see a vault that shows different histories
to different clients; several witnesses comparing their saved checkpoints can.)
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer
from rich.console import Console
from rich.text import Text

from cli.config import ConfigError, load_client_config
from cli.output import clean, print_reports, reports_json
from verify.checkpoint import Checkpoint
from verify.errors import ConsistencyProofError, MalformedInput, VerificationError
from verify.merkle import verify_consistency
from verify.note import NoteVerifier, verify_checkpoint_note
from verify.policy import VerificationPolicy, parse_trusted_keys
from verify.receipt import TimestampEvidence
from verify.report import Report
from verify.timestamp import load_pem_or_der_certs
from verify.verifier import Verifier, key_label

STATE_FORMAT = "locard-witness/1"
EXIT_CONSISTENT = 0
EXIT_INCONSISTENT = 1
EXIT_UNUSABLE = 2
_MAX_STATE = 1024 * 1024


class WitnessUnusable(Exception):
    """The check could not run (network, credentials, a damaged state file): not a verdict."""


@dataclass(frozen=True)
class WitnessState:
    url: str
    origin: str
    log_key: str
    tsa_roots_pem: tuple[str, ...]
    checkpoint: str  # the signed note, as served
    first_seen: str
    checked_at: str

    def to_json(self, cp: Checkpoint) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "url": self.url,
            "origin": self.origin,
            "log_key": self.log_key,
            "tsa_roots_pem": list(self.tsa_roots_pem),
            "size": cp.size,
            "root": cp.root.hex(),
            "checkpoint": self.checkpoint,
            "first_seen": self.first_seen,
            "checked_at": self.checked_at,
        }


def load_state(path: Path) -> WitnessState | None:
    if not path.exists():
        return None
    try:
        with path.open("rb") as fh:
            doc = json.loads(fh.read(_MAX_STATE))
        if not isinstance(doc, dict) or doc.get("format") != STATE_FORMAT:
            raise ValueError(f"not a {STATE_FORMAT} file")
        return WitnessState(
            url=str(doc["url"]),
            origin=str(doc["origin"]),
            log_key=str(doc["log_key"]),
            tsa_roots_pem=tuple(str(p) for p in doc.get("tsa_roots_pem", [])),
            checkpoint=str(doc["checkpoint"]),
            first_seen=str(doc["first_seen"]),
            checked_at=str(doc["checked_at"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise WitnessUnusable(f"state file {path} is unreadable: {exc}") from exc


def save_state(path: Path, doc: dict[str, Any]) -> None:
    """Replace the state atomically: a crash leaves the old checkpoint or the new, never half."""
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=directory)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(doc, fh, indent=2)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _get(client: httpx.Client, path: str, **params: int) -> dict[str, Any]:
    try:
        resp = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise WitnessUnusable(f"cannot reach the vault ({type(exc).__name__}: {exc})") from exc
    if resp.status_code != 200:
        raise WitnessUnusable(f"GET {path} answered {resp.status_code}: {resp.text[:300]}")
    try:
        doc = resp.json()
    except ValueError as exc:
        raise WitnessUnusable(f"GET {path} did not answer JSON") from exc
    if not isinstance(doc, dict):
        raise WitnessUnusable(f"GET {path} did not answer a JSON object")
    return doc


def _stamps(doc: dict[str, Any]) -> list[TimestampEvidence]:
    out = []
    for i, t in enumerate(doc.get("timestamps") or []):
        try:
            out.append(
                TimestampEvidence(
                    tsa=str(t["tsa"]),
                    token=base64.b64decode(t["token"], validate=True),
                    chain=tuple(base64.b64decode(c, validate=True) for c in t["chain"]),
                )
            )
        except (KeyError, TypeError, binascii.Error, ValueError) as exc:
            raise MalformedInput(f"timestamp {i} of the checkpoint is malformed: {exc}") from exc
    return out


def _roots(pems: tuple[str, ...] | list[str]) -> tuple[bytes, ...]:
    return tuple(der for pem in pems for der in load_pem_or_der_certs(pem.encode()))


def witness(
    url: Annotated[str, typer.Argument(help="The vault's base URL, e.g. https://vault.example")],
    state: Annotated[
        Path, typer.Option("--state", help="JSON file keeping the last checkpoint seen.")
    ],
    token: Annotated[
        str | None,
        typer.Option(help="API token, auditor role (else LOCARD_TOKEN, else the client config)."),
    ] = None,
    trusted_key: Annotated[
        str | None,
        typer.Option(
            "--trusted-key",
            help="The vault's verifier key (vkey or file). Default: the key pinned in the "
            "state, or on the first run the key the vault serves (trust on first use).",
        ),
    ] = None,
    trusted_tsa_ca: Annotated[
        list[Path] | None,
        typer.Option("--trusted-tsa-ca", help="TSA root(s) for the checkpoint's tokens."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    timeout: Annotated[float, typer.Option(help="HTTP timeout in seconds.")] = 30.0,
) -> None:
    """Check that the vault's ledger only grew since the last run, then remember its head.

    Exit status: 0 consistent (state saved), 1 the vault's history or key changed (state
    kept as evidence), 2 the check could not run (network, token, state file).
    """
    console = Console()
    err = Console(stderr=True)
    try:
        code = _run(url, state, token, trusted_key, trusted_tsa_ca or [], as_json, timeout, console)
    except (WitnessUnusable, VerificationError, OSError) as exc:
        # VerificationError here is a pin or CA file that cannot be used (PolicyError and
        # friends): evidence problems are failed checks inside the report instead.
        err.print(Text.assemble(("error: ", "bold red"), clean(str(exc))))
        if as_json:
            print(json.dumps({"ok": False, "error": str(exc), "reports": []}, indent=2))
        raise typer.Exit(EXIT_UNUSABLE) from exc
    raise typer.Exit(code)


def _run(
    url: str,
    state_path: Path,
    token: str | None,
    trusted_key: str | None,
    trusted_tsa_ca: list[Path],
    as_json: bool,
    timeout: float,
    console: Console,
) -> int:
    prior = load_state(state_path)
    try:
        config = load_client_config(server=url, token=token)
    except ConfigError as exc:
        raise WitnessUnusable(str(exc)) from exc
    base = config.server
    headers = {"Authorization": f"Bearer {config.token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=timeout) as client:
        keys = _get(client, "/v1/keys")
        latest = _get(client, "/v1/ledger/checkpoint")
        served_key, served_origin = keys.get("log_key"), keys.get("origin")
        note = latest.get("checkpoint")
        if not isinstance(served_key, str) or not isinstance(note, str):
            raise WitnessUnusable("the vault's answers lack 'log_key' or 'checkpoint'")

        report = Report(subject=f"witness of {base}")
        if trusted_key is not None:
            path = Path(trusted_key)
            text = path.read_text() if path.is_file() else trusted_key
            pins = parse_trusted_keys(text, "--trusted-key")
        elif prior is not None:
            pins = (prior.log_key,)
        else:
            pins = (served_key,)
            report.warn(
                "first run: pinned the key the vault serves now (trust on first use); compare "
                "it with the key the vault's operator published, or pass --trusted-key"
            )
        if prior is not None and prior.url != base:
            report.warn(f"the state was last saved for {prior.url}, not {base}")
        if trusted_tsa_ca:
            roots = tuple(
                der for p in trusted_tsa_ca for der in load_pem_or_der_certs(p.read_bytes())
            )
            roots_pem = tuple(p.read_text() for p in trusted_tsa_ca)
        elif prior is not None:
            roots_pem = prior.tsa_roots_pem
            roots = _roots(roots_pem)
        else:
            roots_pem = tuple(
                pem for t in keys.get("tsas") or [] for pem in (t.get("roots_pem") or [])
            )
            roots = _roots(roots_pem)
        verifier = Verifier(
            VerificationPolicy(
                trusted_log_keys=pins,
                trusted_tsa_roots=roots,
                origin=prior.origin if prior is not None else None,
                # The newest checkpoint's tokens may still be on their way from the TSA.
                require_timestamp=False,
            )
        )

        def _key() -> tuple[NoteVerifier, str]:
            v = verifier.log_verifier(served_key, report)
            return v, f"{key_label(v)} ({'pinned' if prior or trusted_key else 'pinned now'})"

        key = report.step("log key", _key)
        cp: Checkpoint | None = None
        if key is not None:

            def _checkpoint() -> tuple[Checkpoint, str]:
                origin = served_origin if isinstance(served_origin, str) else None
                c = verifier.check_checkpoint(note.encode(), key, origin)
                return c, f"{c.origin} size {c.size}, root {c.root.hex()[:16]}…"

            cp = report.step("checkpoint signature", _checkpoint)
        if cp is not None:
            stamps = report.step("timestamps format", lambda: (_stamps(latest), "readable"))
            if stamps:
                verifier.check_timestamps(
                    report, cp, stamps, int(latest.get("timestamps_pending") or 0)
                )
            if prior is not None:
                old = _prior_checkpoint(prior)
                proof: Any = []
                if cp.size > old.size:
                    doc = _get(
                        client, "/v1/ledger/proofs/consistency", first=old.size, second=cp.size
                    )
                    proof = doc.get("proof")
                report.run("consistency", lambda: _consistent(old, cp, proof))
    if report.ok and cp is not None:
        now = datetime.now(UTC).isoformat()
        kept = WitnessState(
            url=base,
            origin=cp.origin,
            log_key=served_key,
            tsa_roots_pem=roots_pem,
            checkpoint=note,
            first_seen=prior.first_seen if prior else now,
            checked_at=now,
        )
        save_state(state_path, kept.to_json(cp))
    if as_json:
        print(reports_json([report]))
    else:
        print_reports(console, [report])
        if report.ok and cp is not None:
            console.print(f"saved checkpoint {cp.size} to {state_path}")
        elif prior is not None:
            console.print(f"{state_path} keeps the last consistent checkpoint as evidence")
    return EXIT_CONSISTENT if report.ok else EXIT_INCONSISTENT


def _prior_checkpoint(prior: WitnessState) -> Checkpoint:
    """The saved checkpoint, re-verified with the key it was saved under."""
    try:
        return verify_checkpoint_note(
            prior.checkpoint.encode(), NoteVerifier.from_vkey(prior.log_key), prior.origin
        )
    except VerificationError as exc:
        raise WitnessUnusable(f"the saved checkpoint does not verify: {exc}") from exc


def _consistent(old: Checkpoint, new: Checkpoint, proof: Any) -> str:
    if new.size < old.size:
        raise ConsistencyProofError(
            f"the tree shrank from {old.size} to {new.size} leaves: the vault dropped "
            "history it had signed"
        )
    try:
        hashes = [bytes.fromhex(h) for h in proof]
    except (TypeError, ValueError) as exc:
        raise MalformedInput(
            f"the vault's consistency proof is not a list of hex hashes: {exc}"
        ) from exc
    verify_consistency(old.size, new.size, hashes, old.root, new.root)
    if new.size == old.size:
        return f"unchanged at {new.size} leaves"
    return f"{old.size} → {new.size} leaves: the old tree is a prefix of the new one"
