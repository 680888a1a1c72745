"""Ledger read API: checkpoints, proofs, entries, receipts, public keys."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response

from app.deps import ProofReader, VaultDep, in_read_thread
from app.edge.routes import GuardedRoute
from app.errors import BadRequest, NotFound
from app.vault import archive_crl, archive_root_crl
from custody.keyring import published_keys
from custody.ledger import UnknownEntry, timestamp_json
from verify.events import decode_event

router = APIRouter(prefix="/v1", tags=["ledger"], route_class=GuardedRoute)
MAX_ENTRIES = 1000
#: Indexes and sizes are BIGINT in the database; larger numbers made the query itself fail
#: (500). 2**62 leaves room for `start + MAX_ENTRIES` and is far beyond any real ledger.
MAX_INDEX = 1 << 62
Index = Annotated[int, Query(ge=0, le=MAX_INDEX)]
Size = Annotated[int, Query(ge=1, le=MAX_INDEX)]
IndexPath = Annotated[int, Path(ge=0, le=MAX_INDEX)]


def _checkpoint_json(vault: VaultDep, size: int | None) -> dict[str, Any]:
    try:
        cp = vault.ledger.checkpoint(size)
    except UnknownEntry as exc:
        raise NotFound(str(exc)) from exc
    return {
        "origin": vault.ledger.origin,
        "size": cp.size,
        "root": cp.root.hex(),
        "checkpoint": cp.note.decode(),
        "timestamps": [timestamp_json(t) for t in cp.timestamps],
        "timestamps_pending": cp.tokens_pending,
    }


@router.get("/ledger/checkpoint")
def latest_checkpoint(vault: VaultDep, who: ProofReader) -> dict[str, Any]:
    return _checkpoint_json(vault, None)


@router.get("/ledger/checkpoints/{size}")
def checkpoint_at(size: IndexPath, vault: VaultDep, who: ProofReader) -> dict[str, Any]:
    return _checkpoint_json(vault, size)


# Proofs are the auditors' hot path: async views with the read alone on a worker thread
# (a sync view is run whole on anyio's pool, which cost as much as the proof).
@router.get("/ledger/proofs/inclusion")
async def inclusion(
    vault: VaultDep,
    who: ProofReader,
    index: Index,
    tree_size: Size,
) -> dict[str, Any]:
    try:
        proof = await in_read_thread(vault.ledger.inclusion, index, tree_size)
    except UnknownEntry as exc:
        raise BadRequest(str(exc)) from exc
    return {"index": index, "tree_size": tree_size, "proof": [h.hex() for h in proof]}


@router.get("/ledger/proofs/consistency")
async def consistency(
    vault: VaultDep,
    who: ProofReader,
    first: Index,
    second: Index,
) -> dict[str, Any]:
    try:
        proof = await in_read_thread(vault.ledger.consistency, first, second)
    except UnknownEntry as exc:
        raise BadRequest(str(exc)) from exc
    return {"first": first, "second": second, "proof": [h.hex() for h in proof]}


@router.get("/ledger/entries")
def entries(
    vault: VaultDep,
    who: ProofReader,
    start: Index = 0,
    end: Annotated[int | None, Query(ge=0, le=MAX_INDEX)] = None,
) -> dict[str, Any]:
    stop = start + MAX_ENTRIES if end is None else end
    if stop < start:
        raise BadRequest("end must be >= start")
    if stop - start > MAX_ENTRIES:
        raise BadRequest(f"at most {MAX_ENTRIES} entries per request")
    return {
        "start": start,
        "entries": [
            {
                "index": e.index,
                "leaf_hash": e.leaf_hash.hex(),
                "event": decode_event(e.canonical).as_json(),
            }
            for e in vault.ledger.entries(start, stop)
        ],
    }


@router.get("/ledger/receipts/{index}")
def receipt(
    index: IndexPath,
    vault: VaultDep,
    who: ProofReader,
    tree_size: Annotated[int | None, Query(ge=1, le=MAX_INDEX)] = None,
) -> dict[str, Any]:
    try:
        return vault.ledger.receipt(index, tree_size).to_json()
    except UnknownEntry as exc:
        raise NotFound(str(exc)) from exc


@router.get("/keys")
def public_keys(vault: VaultDep) -> dict[str, Any]:
    """Public by design: witnesses and auditors fetch the keys to pin them."""
    published = published_keys(vault.engine)
    log_key = published.get("log", "")
    return {
        "origin": vault.ledger.origin,
        "log_key": log_key,
        "tsas": [
            {"name": name.removeprefix("tsa:"), "roots_pem": _split_pem(pem)}
            for name, pem in sorted(published.items())
            if name.startswith("tsa:")
        ],
        "builtin_tsa_self_operated": vault.settings.builtin_tsa,
        # After `locard keys rotate`: the key signing new checkpoints, and the signed
        # hand-overs from `log_key` to it (`locard verify --key-history`).
        "log_key_current": vault.keyring.signer.vkey(),
        "log_key_history": [h.to_json() for h in vault.keyring.history],
    }


@router.get("/keys/crl")
def issuing_ca_crl(vault: VaultDep) -> Response:
    """The issuing CA's current CRL (DER), public like the keys: PAdES validators and
    auditors need it to validate reports long after they were issued."""
    der = archive_crl(vault.settings, vault.store)
    if der is None:
        raise NotFound("this vault's PKI has a single tier (an earlier release): it has no CRL")
    return Response(content=der, media_type="application/pkix-crl")


@router.get("/keys/root.crl")
def root_ca_crl(vault: VaultDep) -> Response:
    """The root's CRL (DER), listing revoked issuing CAs: validators need it for the issuing
    CA's certificate as the issuing CA's CRL is needed for the TSA and report signer."""
    der = archive_root_crl(vault.settings, vault.store)
    if der is None:
        raise NotFound("no root CRL: the root key left this vault before it signed one")
    return Response(content=der, media_type="application/pkix-crl")


def _split_pem(pem: str) -> list[str]:
    end = "-----END CERTIFICATE-----"
    return [p.strip() + "\n" + end + "\n" for p in pem.split(end) if p.strip()]


@router.get("/ledger/checkpoint.txt", response_class=PlainTextResponse)
def checkpoint_note(vault: VaultDep, who: ProofReader) -> str:
    try:
        return vault.ledger.checkpoint().note.decode()
    except UnknownEntry as exc:
        raise NotFound(str(exc)) from exc
