"""Receipt verification against real, sealed receipts: the happy path and a tamper matrix.

Every tampering must fail with its own typed error and stable `check`, at the check
that is supposed to catch it, and `verify_receipt` must never raise.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custody.ledger import Ledger
from custody.signing import NoteSigner
from custody.tsa_builtin import BuiltinTSA
from tests.support.ledger_fixtures import ORIGIN
from tests.support.receipts import Sealed, seal_receipts
from verify.checkpoint import parse_checkpoint_body
from verify.errors import (
    ArtifactHashMismatch,
    ArtifactUnreadable,
    CanonicalEncodingError,
    CheckpointFormatError,
    CheckpointOriginMismatch,
    InclusionProofError,
    InternalError,
    KeyMismatch,
    LeafHashMismatch,
    MalformedInput,
    PolicyError,
    SignatureError,
    TimestampChainError,
    TimestampError,
    TimestampFormatError,
    TimestampImprintMismatch,
    TreeSizeMismatch,
    VerificationError,
)
from verify.events import canonicalize
from verify.merkle import leaf_hash
from verify.note import parse_note
from verify.policy import VerificationPolicy, parse_trusted_keys
from verify.receipt import MAX_RECEIPT_BYTES, parse_receipt
from verify.report import Report
from verify.verifier import Verifier

OTHER_ORIGIN = "evil.example/ledger"


@pytest.fixture(scope="module")
def rogue_tsa(tmp_path_factory: pytest.TempPathFactory) -> BuiltinTSA:
    """A working TSA under a root nobody pinned."""
    return BuiltinTSA.create(tmp_path_factory.mktemp("rogue-tsa") / "tsa", name="rogue")


@pytest.fixture
def sealed(ledger: Ledger, tmp_path: Path) -> Sealed:
    return seal_receipts(ledger, tmp_path)


def strict(sealed: Sealed, tsa: BuiltinTSA, **kw: Any) -> Verifier:
    """What an auditor should run: the vault key and the TSA root pinned."""
    return Verifier(
        VerificationPolicy(
            trusted_log_keys=(sealed.log_key,), trusted_tsa_roots=(tsa.root_cert_der,), **kw
        )
    )


# -- happy path ----------------------------------------------------------------------------


def test_sealed_receipts_verify_with_every_check(sealed: Sealed, builtin_tsa: BuiltinTSA) -> None:
    report = strict(sealed, builtin_tsa).verify_receipt(
        json.dumps(sealed.ingest).encode(), artifact=sealed.artifact
    )
    assert report.ok, report.to_json()
    assert not report.warnings
    assert [c.name for c in report.checks] == [
        "receipt format",
        "event hash",
        "log key",
        "checkpoint signature",
        "inclusion proof",
        "timestamp (builtin)",
        "event time",
        "collector signature",
        "artifact bytes",
    ]
    assert report.subject == "event 2 (ingest)"
    assert "pinned" in report.checks[2].detail and "NOT" not in report.checks[2].detail
    doc = report.to_json()
    assert doc["ok"] is True and all(c["error"] is None for c in doc["checks"])
    # an annotation has no collector signature and no artifact: those checks do not appear
    names = [c.name for c in strict(sealed, builtin_tsa).verify_receipt(sealed.annotation).checks]
    assert "collector signature" not in names and "artifact bytes" not in names


def test_unpinned_verification_passes_but_says_what_it_trusted(sealed: Sealed) -> None:
    report = Verifier().verify_receipt(sealed.ingest)
    assert report.ok
    assert len(report.warnings) == 2
    assert any("--trusted-key" in w for w in report.warnings)
    assert any("--trusted-tsa-ca" in w for w in report.warnings)
    assert "NOT pinned" in report.checks[2].detail


def test_a_json_roundtrip_through_other_encoders_still_verifies(
    sealed: Sealed, builtin_tsa: BuiltinTSA
) -> None:
    # Receipts travel through other tools: key order and whitespace must not matter.
    text = json.dumps(sealed.annotation, indent=4, sort_keys=True, ensure_ascii=True)
    assert strict(sealed, builtin_tsa).verify_receipt(text).ok


def test_an_empty_report_is_not_a_pass() -> None:
    assert not Report("nothing").ok
    assert Report("nothing").first_failure is None


def test_not_required_timestamp_is_reported_as_such(
    sealed: Sealed, builtin_tsa: BuiltinTSA
) -> None:
    doc = copy.deepcopy(sealed.annotation)
    doc["timestamps"] = []
    report = strict(sealed, builtin_tsa, require_timestamp=False).verify_receipt(doc)
    assert report.ok
    assert report.checks[-2].detail == "no token (not required by policy)"
    assert report.checks[-1].name == "event time" and "UNCONFIRMED" in report.checks[-1].detail
    assert "event 0: its time is unconfirmed (no token)" in report.warnings


# -- the tamper matrix ---------------------------------------------------------------------


@dataclass
class Ctx:
    doc: dict[str, Any]
    sealed: Sealed
    tsa: BuiltinTSA
    rogue: BuiltinTSA
    tmp: Path
    policy: dict[str, Any] = field(default_factory=dict)
    pin: bool = True
    artifact: Path | None = None

    @property
    def body(self) -> bytes:
        """The genuine checkpoint text the vault signed."""
        return parse_note(self.doc["checkpoint"].encode()).text


def _flip_hex(h: str, pos: int = 0) -> str:
    raw = bytearray(bytes.fromhex(h))
    raw[pos] ^= 0x01
    return raw.hex()


def _raw(ctx: Ctx) -> str:
    return json.dumps(ctx.doc)


def _resign(ctx: Ctx, signer: NoteSigner, text: bytes | None = None, *, key: bool) -> None:
    ctx.doc["checkpoint"] = signer.sign_note(text if text is not None else ctx.body).decode()
    if key:
        ctx.doc["log_key"] = signer.vkey()


def _foreign_checkpoint(ctx: Ctx, *, key: bool) -> None:
    cp = parse_checkpoint_body(ctx.body)
    other = type(cp)(OTHER_ORIGIN, cp.size, cp.root)
    _resign(ctx, NoteSigner.generate(OTHER_ORIGIN), other.body(), key=key)


def _token(ctx: Ctx, tsa: BuiltinTSA, data: bytes) -> None:
    tok = tsa.timestamp(hashlib.sha256(data).digest())
    ctx.doc["timestamps"] = [
        {
            "tsa": tsa.name,
            "token": base64.b64encode(tok.tsr_der).decode(),
            "chain": [base64.b64encode(c).decode() for c in tok.chain_der],
        }
    ]


def _edit_event(ctx: Ctx, rehash: bool) -> None:
    ctx.doc["event"]["body"]["file_name"] = "innocent.img"
    if rehash:
        ctx.doc["leaf_hash"] = leaf_hash(canonicalize(ctx.doc["event"])).hex()


def _set(key: str, value: Any) -> Callable[[Ctx], None]:
    def mutate(ctx: Ctx) -> None:
        ctx.doc[key] = value

    return mutate


def _artifact(ctx: Ctx, data: bytes | None) -> None:
    path = ctx.tmp / "suspect.img"
    if data is not None:
        path.write_bytes(data)
    ctx.artifact = path


def _flipped_artifact(ctx: Ctx) -> bytes:
    data = bytearray(ctx.sealed.artifact.read_bytes())
    data[len(data) // 2] ^= 0x80
    return bytes(data)


@dataclass(frozen=True)
class Case:
    id: str
    mutate: Callable[[Ctx], None | str | bytes]
    error: type[VerificationError]
    check: str
    at: str  # the name of the check that must catch it


def _annotation(ctx: Ctx) -> Ctx:
    """Switch to the annotation receipt: its body holds a float."""
    ctx.doc = copy.deepcopy(ctx.sealed.annotation)
    assert _raw(ctx).count("0.25") == 1
    return ctx


def _drop(key: str) -> Callable[[Ctx], None]:
    def mutate(ctx: Ctx) -> None:
        del ctx.doc[key]

    return mutate


def _event(key: str, value: Callable[[Any], Any]) -> Callable[[Ctx], None]:
    def mutate(ctx: Ctx) -> None:
        ctx.doc["event"][key] = value(ctx.doc["event"].get(key))

    return mutate


def _proof(fn: Callable[[list[str]], Any]) -> Callable[[Ctx], None]:
    def mutate(ctx: Ctx) -> None:
        fn(ctx.doc["inclusion_proof"])

    return mutate


def _shift(key: str, by: int) -> Callable[[Ctx], None]:
    def mutate(ctx: Ctx) -> None:
        ctx.doc[key] += by

    return mutate


def _flip_proof_bit(proof: list[str]) -> None:
    proof[1] = _flip_hex(proof[1], 31)


def _flip_leaf_hash(ctx: Ctx) -> None:
    ctx.doc["leaf_hash"] = _flip_hex(ctx.doc["leaf_hash"])


def _inexact_number(ctx: Ctx) -> str:
    return _raw(_annotation(ctx)).replace("0.25", "0.25000000000000000001")


def _huge_size(ctx: Ctx) -> None:
    ctx.doc["event"]["body"]["size"] = 2**60


def _leaf_beyond_tree(ctx: Ctx) -> None:
    ctx.doc["leaf_index"] = ctx.doc["tree_size"]


def _edit_checkpoint_size(ctx: Ctx) -> None:
    ctx.doc["checkpoint"] = ctx.doc["checkpoint"].replace("\n5\n", "\n6\n", 1)


def _resigned_by_stranger(ctx: Ctx) -> None:
    _resign(ctx, NoteSigner.generate(ORIGIN), key=False)


def _substituted_log_key(ctx: Ctx) -> None:
    _resign(ctx, NoteSigner.generate(ORIGIN), key=True)


def _foreign_with_vault_key(ctx: Ctx) -> None:
    _foreign_checkpoint(ctx, key=False)


def _foreign_with_its_key(ctx: Ctx) -> None:
    _foreign_checkpoint(ctx, key=True)
    ctx.pin = False


def _foreign_claimed_pinned_origin(ctx: Ctx) -> None:
    _foreign_with_its_key(ctx)
    ctx.doc["origin"] = OTHER_ORIGIN
    ctx.policy["origin"] = ORIGIN


def _token_other_imprint(ctx: Ctx) -> None:
    _token(ctx, ctx.tsa, b"some other checkpoint")


def _token_untrusted_tsa(ctx: Ctx) -> None:
    _token(ctx, ctx.rogue, ctx.body)


def _token_field(value: str) -> Callable[[Ctx], None]:
    def mutate(ctx: Ctx) -> None:
        ctx.doc["timestamps"][0]["token"] = value

    return mutate


def _tokens_pending(ctx: Ctx) -> None:
    ctx.doc["timestamps"] = []
    ctx.doc["timestamps_pending"] = 1


def _artifact_flipped(ctx: Ctx) -> None:
    _artifact(ctx, _flipped_artifact(ctx))


def _artifact_truncated(ctx: Ctx) -> None:
    _artifact(ctx, ctx.sealed.artifact.read_bytes()[:-1])


def _artifact_missing(ctx: Ctx) -> None:
    _artifact(ctx, None)


def _bad_collector_signature(ctx: Ctx) -> None:
    ctx.doc = copy.deepcopy(ctx.sealed.bad_signature)


def _const(data: str | bytes) -> Callable[[Ctx], str | bytes]:
    return lambda ctx: data


FMT, ENC = "format", "event-encoding"
AT_FORMAT, AT_PROOF, AT_CP = "receipt format", "inclusion proof", "checkpoint signature"
SIG, TS = "signature", "timestamp (builtin)"
GARBAGE_TOKEN = base64.b64encode(b"\x30\x03\x02\x01\x00").decode()
CASES = [
    # -- not a receipt at all
    Case("malformed-json", lambda c: _raw(c)[:-7], MalformedInput, FMT, AT_FORMAT),
    Case("garbage-bytes", _const(b"\xff\xd8\xff\xe0garbage\x00"), MalformedInput, FMT, AT_FORMAT),
    Case("empty", _const(b""), MalformedInput, FMT, AT_FORMAT),
    Case("json-array", _const("[1, 2]"), MalformedInput, FMT, AT_FORMAT),
    Case("deep-nesting", _const("[" * 100_000), MalformedInput, FMT, AT_FORMAT),
    Case("oversized", _const(b" " * (MAX_RECEIPT_BYTES + 1)), MalformedInput, FMT, AT_FORMAT),
    Case("wrong-format-tag", _set("format", "locard-receipt/2"), MalformedInput, FMT, AT_FORMAT),
    Case("no-format-tag", _drop("format"), MalformedInput, FMT, AT_FORMAT),
    Case(
        "duplicate-key",
        lambda c: _raw(c)[:-1] + ', "tree_size": 1}',
        MalformedInput,
        FMT,
        AT_FORMAT,
    ),
    Case("nan-constant", lambda c: _raw(c)[:-1] + ', "x": NaN}', MalformedInput, FMT, AT_FORMAT),
    Case("lone-surrogate", _set("origin", "\ud800"), MalformedInput, FMT, AT_FORMAT),
    # -- wrong types anywhere
    Case("missing-event", _drop("event"), MalformedInput, FMT, AT_FORMAT),
    Case("event-not-object", _set("event", "{}"), MalformedInput, FMT, AT_FORMAT),
    Case("proof-of-ints", _set("inclusion_proof", [1]), MalformedInput, FMT, AT_FORMAT),
    Case(
        "proof-hash-short",
        _proof(lambda p: p.__setitem__(0, "ab" * 31)),
        MalformedInput,
        FMT,
        AT_FORMAT,
    ),
    Case(
        "proof-hash-upper",
        _proof(lambda p: p.__setitem__(0, p[0].upper())),
        MalformedInput,
        FMT,
        AT_FORMAT,
    ),
    Case("timestamps-string", _set("timestamps", "x"), MalformedInput, FMT, AT_FORMAT),
    Case("timestamp-entry-null", _set("timestamps", [None]), MalformedInput, FMT, AT_FORMAT),
    Case("token-not-base64", _token_field("%%%"), MalformedInput, FMT, AT_FORMAT),
    Case("pending-string", _set("timestamps_pending", "x"), MalformedInput, FMT, AT_FORMAT),
    Case("leaf-index-bool", _set("leaf_index", True), MalformedInput, FMT, AT_FORMAT),
    Case("leaf-index-float", _set("leaf_index", 2.5), MalformedInput, FMT, AT_FORMAT),
    Case("leaf-index-negative", _set("leaf_index", -1), MalformedInput, FMT, AT_FORMAT),
    Case("tree-size-zero", _set("tree_size", 0), MalformedInput, FMT, AT_FORMAT),
    Case("leaf-hash-null", _set("leaf_hash", None), MalformedInput, FMT, AT_FORMAT),
    Case("checkpoint-number", _set("checkpoint", 5), MalformedInput, FMT, AT_FORMAT),
    # -- the event is not canonical, or not an event
    Case(
        "event-extra-field", _event("note", lambda _: "x"), CanonicalEncodingError, ENC, AT_FORMAT
    ),
    Case(
        "event-missing-field",
        lambda c: c.doc["event"].pop("prev") and None,
        CanonicalEncodingError,
        ENC,
        AT_FORMAT,
    ),
    Case("event-version-bool", _event("v", lambda _: True), CanonicalEncodingError, ENC, AT_FORMAT),
    Case(
        "event-time-offset",
        _event("at", lambda t: t.replace("Z", "+00:00")),
        CanonicalEncodingError,
        ENC,
        AT_FORMAT,
    ),
    Case(
        "event-item-newline",
        _event("item", lambda i: i + "\n"),
        CanonicalEncodingError,
        ENC,
        AT_FORMAT,
    ),
    Case("event-number-inexact", _inexact_number, CanonicalEncodingError, ENC, AT_FORMAT),
    Case("event-integer-too-big", _huge_size, CanonicalEncodingError, ENC, AT_FORMAT),
    # -- the event does not match its leaf
    Case(
        "edited-event-body",
        lambda c: _edit_event(c, rehash=False),
        LeafHashMismatch,
        "leaf-hash",
        "event hash",
    ),
    Case("flipped-leaf-hash", _flip_leaf_hash, LeafHashMismatch, "leaf-hash", "event hash"),
    # -- the proof
    Case(
        "edited-event-rehashed",
        lambda c: _edit_event(c, rehash=True),
        InclusionProofError,
        "inclusion",
        AT_PROOF,
    ),
    Case("truncated-proof", _proof(lambda p: p.pop()), InclusionProofError, "inclusion", AT_PROOF),
    Case(
        "padded-proof",
        _proof(lambda p: p.append("00" * 32)),
        InclusionProofError,
        "inclusion",
        AT_PROOF,
    ),
    Case("empty-proof", _set("inclusion_proof", []), InclusionProofError, "inclusion", AT_PROOF),
    Case("flipped-proof-bit", _proof(_flip_proof_bit), InclusionProofError, "inclusion", AT_PROOF),
    Case("wrong-leaf-index", _shift("leaf_index", 1), InclusionProofError, "inclusion", AT_PROOF),
    Case("leaf-index-beyond-tree", _leaf_beyond_tree, InclusionProofError, "inclusion", AT_PROOF),
    Case("wrong-tree-size", _shift("tree_size", 1), TreeSizeMismatch, "tree-size", AT_PROOF),
    Case("smaller-tree-size", _shift("tree_size", -1), TreeSizeMismatch, "tree-size", AT_PROOF),
    # -- the checkpoint and its key
    Case(
        "checkpoint-garbled",
        _set("checkpoint", "not a note\n"),
        CheckpointFormatError,
        "checkpoint-format",
        AT_CP,
    ),
    Case("checkpoint-size-edited", _edit_checkpoint_size, SignatureError, SIG, AT_CP),
    Case("checkpoint-resigned-other-key", _resigned_by_stranger, SignatureError, SIG, AT_CP),
    Case("checkpoint-other-origin-vault-key", _foreign_with_vault_key, SignatureError, SIG, AT_CP),
    Case(
        "checkpoint-other-origin",
        _foreign_with_its_key,
        CheckpointOriginMismatch,
        "checkpoint-origin",
        AT_CP,
    ),
    Case(
        "checkpoint-other-origin-pinned",
        _foreign_claimed_pinned_origin,
        CheckpointOriginMismatch,
        "checkpoint-origin",
        AT_CP,
    ),
    Case("log-key-substituted-pinned", _substituted_log_key, KeyMismatch, "key", "log key"),
    Case("log-key-malformed", _set("log_key", "vault+zz+AAAA"), MalformedInput, FMT, "log key"),
    # -- the timestamps
    Case(
        "token-other-imprint",
        _token_other_imprint,
        TimestampImprintMismatch,
        "timestamp-imprint",
        TS,
    ),
    Case(
        "token-untrusted-tsa",
        _token_untrusted_tsa,
        TimestampChainError,
        "timestamp-chain",
        "timestamp (rogue)",
    ),
    Case(
        "token-garbage", _token_field(GARBAGE_TOKEN), TimestampFormatError, "timestamp-format", TS
    ),
    Case("tokens-missing", _set("timestamps", []), TimestampError, "timestamp", "timestamp"),
    Case("tokens-pending", _tokens_pending, TimestampError, "timestamp", "timestamp"),
    # -- what the event says about the world
    Case(
        "artifact-flipped-byte",
        _artifact_flipped,
        ArtifactHashMismatch,
        "artifact-hash",
        "artifact bytes",
    ),
    Case(
        "artifact-truncated",
        _artifact_truncated,
        ArtifactHashMismatch,
        "artifact-hash",
        "artifact bytes",
    ),
    Case(
        "artifact-missing", _artifact_missing, ArtifactUnreadable, "artifact-read", "artifact bytes"
    ),
    Case(
        "bad-collector-signature",
        _bad_collector_signature,
        SignatureError,
        SIG,
        "collector signature",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_tamper_matrix(
    case: Case, sealed: Sealed, builtin_tsa: BuiltinTSA, rogue_tsa: BuiltinTSA, tmp_path: Path
) -> None:
    ctx = Ctx(copy.deepcopy(sealed.ingest), sealed, builtin_tsa, rogue_tsa, tmp_path)
    out = case.mutate(ctx)
    data: bytes | str | dict[str, Any] = out if out is not None else json.dumps(ctx.doc)
    if ctx.pin:
        verifier = strict(sealed, builtin_tsa, **ctx.policy)
    else:
        verifier = Verifier(VerificationPolicy(**ctx.policy))
    report = verifier.verify_receipt(data, artifact=ctx.artifact)

    assert not report.ok
    failed = [c for c in report.checks if not c.ok]
    assert len(failed) == 1, report.to_json()
    (bad,) = failed
    assert type(bad.error) is case.error, (bad.error, bad.detail)
    assert bad.check == case.check
    assert bad.name == case.at
    assert bad.detail  # a message a person can read
    assert report.first_failure is bad
    entry = next(c for c in report.to_json()["checks"] if not c["ok"])
    assert entry["error"] == case.error.__name__ and entry["check"] == case.check
    json.dumps(report.to_json())  # machine output is always serialisable


def test_the_matrix_names_distinct_failures() -> None:
    # The issue asks for "its own clear error" per kind of damage.
    kinds = {(c.error, c.check) for c in CASES}
    assert len({check for _, check in kinds}) == len(kinds) >= 15


def test_substituted_key_passes_only_when_nothing_is_pinned(sealed: Sealed) -> None:
    """Why pinning matters: an attacker's key over the genuine tree verifies on its own."""
    doc = copy.deepcopy(sealed.ingest)
    attacker = NoteSigner.generate(ORIGIN)
    doc["checkpoint"] = attacker.sign_note(parse_note(doc["checkpoint"].encode()).text).decode()
    doc["log_key"] = attacker.vkey()
    report = Verifier().verify_receipt(doc)
    assert report.ok and any("not pinned" in w for w in report.warnings)
    report = Verifier(VerificationPolicy(trusted_log_keys=(sealed.log_key,))).verify_receipt(doc)
    assert type(report.first_failure and report.first_failure.error) is KeyMismatch


def test_untrusted_tsa_is_only_caught_with_a_pinned_root(
    sealed: Sealed, builtin_tsa: BuiltinTSA, rogue_tsa: BuiltinTSA, tmp_path: Path
) -> None:
    ctx = Ctx(copy.deepcopy(sealed.ingest), sealed, builtin_tsa, rogue_tsa, tmp_path)
    _token(ctx, rogue_tsa, ctx.body)
    report = Verifier(VerificationPolicy(trusted_log_keys=(sealed.log_key,))).verify_receipt(
        ctx.doc
    )
    assert report.ok and any("TSA root not pinned" in w for w in report.warnings)


def test_token_without_certificates_and_no_pinned_root(sealed: Sealed) -> None:
    doc = copy.deepcopy(sealed.ingest)
    doc["timestamps"][0]["chain"] = []
    report = Verifier().verify_receipt(doc)
    failure = report.first_failure
    assert failure is not None and type(failure.error) is TimestampChainError
    assert "--trusted-tsa-ca" in failure.detail


def test_dict_input_with_non_json_values_is_malformed(sealed: Sealed) -> None:
    doc = copy.deepcopy(sealed.ingest)
    doc["event"]["body"]["blob"] = b"bytes are not JSON"
    report = Verifier().verify_receipt(doc)
    assert report.first_failure is not None
    assert type(report.first_failure.error) is MalformedInput


def test_parse_receipt_raises_typed_errors_only() -> None:
    with pytest.raises(MalformedInput):
        parse_receipt(b"\x00")
    with pytest.raises(MalformedInput):
        parse_receipt(42)  # type: ignore[arg-type]


# -- never a raw exception -----------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def test_random_damage_never_escapes_as_an_exception(
    sealed: Sealed, builtin_tsa: BuiltinTSA
) -> None:
    verifier = strict(sealed, builtin_tsa)
    paths = _paths(sealed.ingest)[1:]

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.sampled_from(paths), json_values, st.integers(min_value=0, max_value=2000))
    def damaged(path: tuple[Any, ...], value: Any, cut: int) -> None:
        doc = copy.deepcopy(sealed.ingest)
        target = doc
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        text = json.dumps(doc)
        for data in (doc, text, text[: cut * len(text) // 2000].encode()):
            report = verifier.verify_receipt(data)
            assert report.checks
            assert not any(isinstance(c.error, InternalError) for c in report.checks), (
                report.to_json()
            )

    damaged()


# -- pins ----------------------------------------------------------------------------------


def test_bad_pins_are_policy_errors_not_failed_checks(sealed: Sealed) -> None:
    for bad in ("", "not-a-key", "name+12345678+AAAA", sealed.log_key.replace("+", "-", 1)):
        with pytest.raises(PolicyError, match="trusted key #1"):
            Verifier(VerificationPolicy(trusted_log_keys=(bad,)))
    with pytest.raises(PolicyError, match="TSA root #1"):
        Verifier(VerificationPolicy(trusted_tsa_roots=(b"not a certificate",)))
    with pytest.raises(PolicyError):
        Verifier(VerificationPolicy(origin="two\nlines"))


def test_trusted_keys_from_text_file_lines_and_keys_json(sealed: Sealed) -> None:
    other = NoteSigner.generate("rotated.example/ledger").vkey()
    assert parse_trusted_keys(f"  {sealed.log_key}\n") == (sealed.log_key,)
    text = f"# vault keys\n\n{sealed.log_key}\n  # old key\n{other}\n"
    assert parse_trusted_keys(text) == (sealed.log_key, other)
    keys_json = json.dumps({"origin": ORIGIN, "log_key": sealed.log_key, "tsas": []})
    assert parse_trusted_keys(keys_json) == (sealed.log_key,)
    for bad in ("", "# only a comment\n", '{"log_key": 5}', "{not json", "x+y+z"):
        with pytest.raises(PolicyError):
            parse_trusted_keys(bad, "test")
