"""The proof members of a bundle, `proofs/<index>.json` and `consistency/<a>-<b>.json`.

One definition for the exporter, which writes them with `inclusion_proof_json` and
`consistency_proof_json`, and the verifier, which reads them with the `parse_` functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from verify.bundle.manifest import required
from verify.errors import ConsistencyProofError, InclusionProofError
from verify.strict_json import hash_hex, load_strict_json


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]


def inclusion_proof_json(leaf_index: int, tree_size: int, proof: Sequence[bytes]) -> dict[str, Any]:
    return {
        "leaf_index": leaf_index,
        "tree_size": tree_size,
        "inclusion_proof": [h.hex() for h in proof],
    }


def consistency_proof_json(first: int, second: int, proof: Sequence[bytes]) -> dict[str, Any]:
    return {"first": first, "second": second, "proof": [h.hex() for h in proof]}


def parse_inclusion_proof(data: bytes, index: int, member: str) -> InclusionProof:
    """The proof of leaf `index`; InclusionProofError if the file proves another leaf."""
    doc = load_strict_json(data, "inclusion proof")
    if required(doc, "leaf_index", int, "proof") != index:
        raise InclusionProofError(f"{member} is the proof of another leaf")
    return InclusionProof(
        leaf_index=index,
        tree_size=required(doc, "tree_size", int, "proof"),
        hashes=tuple(
            hash_hex(h, "inclusion proof hash")
            for h in required(doc, "inclusion_proof", list, "proof")
        ),
    )


def parse_consistency_proof(data: bytes, first: int, second: int) -> list[bytes]:
    """The hashes proving `first` -> `second`; ConsistencyProofError for other sizes."""
    doc = load_strict_json(data, "consistency proof")
    if (
        required(doc, "first", int, "proof") != first
        or required(doc, "second", int, "proof") != second
    ):
        raise ConsistencyProofError(f"the file holds a proof for other sizes than {first}→{second}")
    return [hash_hex(h, "consistency proof hash") for h in required(doc, "proof", list, "proof")]
