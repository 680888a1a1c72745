"""Tamper matrix: each change to a genuine bundle fails with the right typed error, naming
the item. The attacker rewrites the manifest's digests too, unless the case says otherwise,
so the change reaches the cryptographic checks instead of the table of contents."""

from __future__ import annotations

import json
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from custody.signing import NoteSigner
from custody.tsa_builtin import BuiltinTSA
from tests.bundles.conftest import (
    PopulatedCase,
    cli,
    export_api,
    members,
    pinned_policy,
    populate,
    rewrite,
    trust,
)
from tests.support.live_server import LiveVault, live_vault, make_settings
from verify.bundle import (
    LOG_KEY_MEMBER,
    checkpoint_member,
    consistency_member,
    event_member,
    proof_member,
    token_member,
    verify_bundle,
)
from verify.checkpoint import Checkpoint, parse_checkpoint_body
from verify.errors import (
    ArtifactHashMismatch,
    BundleMemberError,
    ConsistencyProofError,
    EventsReordered,
    InclusionProofError,
    KeyMismatch,
    MalformedInput,
    MissingEvent,
    OrderError,
    SignatureError,
    TimestampChainError,
    TimestampImprintMismatch,
    UnexpectedEvent,
    VerificationError,
)
from verify.events import canonicalize
from verify.note import parse_note
from verify.policy import VerificationPolicy
from verify.report import Check, Report


@dataclass
class Exported:
    live: LiveVault
    case: PopulatedCase
    bundle: Path
    manifest: dict[str, Any]
    other_event: int  # an event of another case, sealed before the export
    dir: Path

    def events_of(self, chain: str) -> list[int]:
        return [e["index"] for e in self.manifest["events"] if e["chain"] == chain]

    def index_of(self, etype: str) -> int:
        return int(next(e["index"] for e in self.manifest["events"] if e["type"] == etype))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    d = tmp_path_factory.mktemp("tamper")
    with live_vault(make_settings(d / "vault", f"sqlite:///{d / 'locard.db'}")) as live:
        with live.client("collector") as c:
            r = c.post("/v1/cases", json={"title": "Unrelated phishing", "severity": "P4"})
            assert r.status_code == 201, r.text
            other_event = int(r.json()["receipt"]["leaf_index"])
        case = populate(live)
        bundle = export_api(live, case.case_id, d / "bundle.zip")
        manifest = json.loads(members(bundle)["manifest.json"])
        yield Exported(live, case, bundle, manifest, other_event, d)


def check(exported: Exported, path: Path, policy: VerificationPolicy | None = None) -> Report:
    return verify_bundle(path, policy or pinned_policy(exported.live))


def failure(report: Report) -> Check:
    assert not report.ok, "the tampered bundle verified"
    first = report.first_failure
    assert first is not None and first.error is not None
    return first


def assert_fails(
    report: Report, error: type[VerificationError], subject: str, check: str | None = None
) -> Check:
    first = failure(report)
    assert type(first.error) is error, (first.name, first.detail, type(first.error))
    assert first.error is not None and first.error.subject == subject, first.detail
    assert subject in first.detail
    if check is not None:
        assert first.name == check
    return first


def test_genuine_bundle_verifies(exported: Exported) -> None:
    report = check(exported, exported.bundle)
    assert report.ok, report.to_json()
    assert not report.warnings
    names = [c.name for c in report.checks]
    assert names[:10] == [
        "bundle file",
        "manifest",
        "log key",
        "checkpoint signatures",
        "timestamps",
        "consistency",
        "event inclusion",
        "custody chains",
        "event times",
        "export record",
    ]
    assert sorted(n.removeprefix("artifact ") for n in names[10:]) == sorted(
        exported.case.artifacts
    )


def test_genuine_bundle_unpinned_warns(exported: Exported) -> None:
    report = verify_bundle(exported.bundle)
    assert report.ok
    assert any("log key not pinned" in w for w in report.warnings)


def _data_offset(path: Path, name: str) -> int:
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name)
    with path.open("rb") as fh:
        fh.seek(info.header_offset)
        header = fh.read(30)
    name_len, extra_len = struct.unpack("<HH", header[26:30])
    return int(info.header_offset + 30 + name_len + extra_len)


def _big_artifact(exported: Exported) -> dict[str, Any]:
    return max(exported.manifest["artifacts"], key=lambda a: a["size"])


def test_flipped_byte_in_artifact_zip(exported: Exported) -> None:
    """A byte flipped in place in the zip (the CRC no longer matches either)."""
    art = _big_artifact(exported)
    data = bytearray(exported.bundle.read_bytes())
    data[_data_offset(exported.bundle, art["file"]) + 1_000_000] ^= 0x01
    bad = exported.dir / "flip-raw.zip"
    bad.write_bytes(bytes(data))
    assert_fails(check(exported, bad), ArtifactHashMismatch, f"artifact {art['id']}")


def test_flipped_byte_in_artifact_rezipped(exported: Exported) -> None:
    """The same flip in a freshly written zip whose CRC and manifest digest agree with it."""
    art = _big_artifact(exported)

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        content = bytearray(files[art["file"]])
        content[12345] ^= 0x80
        files[art["file"]] = bytes(content)

    bad = rewrite(exported.bundle, exported.dir / "flip.zip", edit)
    first = assert_fails(check(exported, bad), ArtifactHashMismatch, f"artifact {art['id']}")
    assert "size" in first.detail or "sha256" in first.detail


def _edit_event(files: dict[str, bytes], index: int, **body: Any) -> None:
    doc = json.loads(files[event_member(index)])
    doc["body"].update(body)
    files[event_member(index)] = canonicalize(doc)


def test_edited_event(exported: Exported) -> None:
    index = exported.index_of("annotation")
    bad = rewrite(
        exported.bundle,
        exported.dir / "edited.zip",
        lambda files, _: _edit_event(files, index, text="nothing to see here"),
    )
    assert_fails(check(exported, bad), InclusionProofError, f"event {index}", "event inclusion")


def test_edited_event_without_fixing_the_manifest(exported: Exported) -> None:
    index = exported.index_of("annotation")
    bad = rewrite(
        exported.bundle,
        exported.dir / "edited-lazy.zip",
        lambda files, _: _edit_event(files, index, text="nothing to see here"),
        update_digests=False,
    )
    assert_fails(check(exported, bad), BundleMemberError, event_member(index))


def _drop_event(files: dict[str, bytes], manifest: dict[str, Any], index: int) -> None:
    del files[event_member(index)], files[proof_member(index)]
    manifest["events"] = [e for e in manifest["events"] if e["index"] != index]


def test_removed_event_in_the_middle_of_a_chain(exported: Exported) -> None:
    first = next(iter(exported.case.artifacts))
    chain = exported.events_of(f"item:{first}")
    assert len(chain) >= 4
    victim, successor = chain[1], chain[2]
    bad = rewrite(
        exported.bundle,
        exported.dir / "removed.zip",
        lambda files, manifest: _drop_event(files, manifest, victim),
    )
    first_failure = assert_fails(
        check(exported, bad), MissingEvent, f"event {successor}", "custody chains"
    )
    assert "missing" in first_failure.detail


def test_removed_last_event_of_a_chain(exported: Exported) -> None:
    first = next(iter(exported.case.artifacts))
    last = exported.events_of(f"item:{first}")[-1]
    bad = rewrite(
        exported.bundle,
        exported.dir / "removed-head.zip",
        lambda files, manifest: _drop_event(files, manifest, last),
    )
    assert_fails(check(exported, bad), MissingEvent, f"chain item:{first}", "export record")


def test_removed_event_file_only(exported: Exported) -> None:
    index = exported.index_of("containment")

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        del files[event_member(index)]

    bad = rewrite(exported.bundle, exported.dir / "gone.zip", edit, update_digests=False)
    assert_fails(check(exported, bad), MissingEvent, f"event {index}", "event inclusion")


def test_removed_export_event(exported: Exported) -> None:
    index = exported.manifest["export_event"]
    bad = rewrite(
        exported.bundle,
        exported.dir / "no-export.zip",
        lambda files, manifest: _drop_event(files, manifest, index),
    )
    assert_fails(check(exported, bad), MissingEvent, f"event {index}", "export record")


def test_reordered_pair_of_events(exported: Exported) -> None:
    first = next(iter(exported.case.artifacts))
    a, b = exported.events_of(f"item:{first}")[1:3]

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        files[event_member(a)], files[event_member(b)] = (
            files[event_member(b)],
            files[event_member(a)],
        )

    bad = rewrite(exported.bundle, exported.dir / "swapped.zip", edit)
    first_failure = assert_fails(check(exported, bad), EventsReordered, f"event {a}")
    assert f"event {b}" in first_failure.detail


def test_events_listed_out_of_order(exported: Exported) -> None:
    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        ev = manifest["events"]
        ev[2], ev[3] = ev[3], ev[2]

    bad = rewrite(exported.bundle, exported.dir / "listed.zip", edit)
    report = check(exported, bad)
    first = failure(report)
    assert isinstance(first.error, OrderError)


def test_event_of_another_case_smuggled_in(exported: Exported) -> None:
    ledger = exported.live.vault.ledger
    index = exported.other_event
    anchor = exported.manifest["anchor"]

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        ev = ledger.event(index)
        files[event_member(index)] = ev.canonical
        files[proof_member(index)] = json.dumps(
            {
                "leaf_index": index,
                "tree_size": anchor,
                "inclusion_proof": [h.hex() for h in ledger.inclusion(index, anchor)],
            }
        ).encode()
        doc = json.loads(ev.canonical)
        manifest["events"].append(
            {
                "index": index,
                "chain": f"case:{doc['case']}",
                "type": doc["type"],
                "sealed_in": anchor,
            }
        )
        manifest["events"].sort(key=lambda e: e["index"])

    bad = rewrite(exported.bundle, exported.dir / "smuggled.zip", edit)
    assert_fails(check(exported, bad), UnexpectedEvent, f"event {index}", "event inclusion")


def _middle_checkpoint(exported: Exported) -> int:
    sizes = [c["size"] for c in exported.manifest["checkpoints"]]
    assert len(sizes) >= 3
    return int(sizes[len(sizes) // 2])


def test_checkpoint_replaced_and_signed_by_another_key(exported: Exported) -> None:
    size = _middle_checkpoint(exported)
    origin = exported.manifest["origin"]
    forger = NoteSigner.generate(origin)  # same name, another key

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        files[checkpoint_member(size)] = forger.sign_note(
            Checkpoint(origin, size, b"\x42" * 32).body()
        )

    bad = rewrite(exported.bundle, exported.dir / "forged-cp.zip", edit)
    assert_fails(
        check(exported, bad), SignatureError, f"checkpoint {size}", "checkpoint signatures"
    )


def test_token_of_another_checkpoint(exported: Exported) -> None:
    sizes = [c["size"] for c in exported.manifest["checkpoints"]]
    size, other = sizes[1], sizes[0]

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        files[token_member(size, "builtin")] = files[token_member(other, "builtin")]

    bad = rewrite(exported.bundle, exported.dir / "token.zip", edit)
    assert_fails(check(exported, bad), TimestampImprintMismatch, f"checkpoint {size}", "timestamps")


def test_tsa_root_not_the_pinned_one(exported: Exported) -> None:
    stranger = BuiltinTSA.create(exported.dir / "stranger-tsa")
    policy = VerificationPolicy(
        trusted_log_keys=(exported.live.vault.ledger.log_key,),
        trusted_tsa_roots=(stranger.root_cert_der,),
    )
    report = check(exported, exported.bundle, policy)
    first = failure(report)
    assert isinstance(first.error, TimestampChainError)
    assert first.error.subject == f"checkpoint {exported.manifest['checkpoints'][0]['size']}"


def _resign_everything(exported: Exported) -> Path:
    """A complete forgery: every checkpoint re-signed by the attacker, who swaps in its key."""
    origin = exported.manifest["origin"]
    forger = NoteSigner.generate(origin)

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        for c in manifest["checkpoints"]:
            body = parse_checkpoint_body(parse_note(files[checkpoint_member(c["size"])]).text)
            files[checkpoint_member(c["size"])] = forger.sign_note(body.body())
        files[LOG_KEY_MEMBER] = (forger.vkey() + "\n").encode()
        manifest["log_key"] = forger.vkey()

    return rewrite(exported.bundle, exported.dir / "forged-key.zip", edit)


def test_substituted_public_key_with_pinned_key(exported: Exported) -> None:
    bad = _resign_everything(exported)
    assert_fails(check(exported, bad), KeyMismatch, LOG_KEY_MEMBER, "log key")
    # Unpinned, the forgery is self-consistent: only the warning says it proves nothing.
    unpinned = verify_bundle(bad)
    assert unpinned.ok
    assert any("not pinned" in w for w in unpinned.warnings)


def test_broken_consistency_proof(exported: Exported) -> None:
    sizes = [c["size"] for c in exported.manifest["checkpoints"]]
    pairs = list(zip(sizes, sizes[1:], strict=False))
    files = members(exported.bundle)
    a, b = next((a, b) for a, b in pairs if json.loads(files[consistency_member(a, b)])["proof"])

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        doc = json.loads(files[consistency_member(a, b)])
        doc["proof"][0] = "00" * 32
        files[consistency_member(a, b)] = json.dumps(doc).encode()

    bad = rewrite(exported.bundle, exported.dir / "consistency.zip", edit)
    assert_fails(check(exported, bad), ConsistencyProofError, f"consistency {a}→{b}", "consistency")


def test_extra_member(exported: Exported) -> None:
    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        files["README-FIRST.txt"] = b"trust me"

    bad = rewrite(exported.bundle, exported.dir / "extra.zip", edit)
    assert_fails(check(exported, bad), BundleMemberError, "README-FIRST.txt", "manifest")


def test_artifact_dropped_from_the_bundle(exported: Exported) -> None:
    art = _big_artifact(exported)

    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        del files[art["file"]]
        manifest["artifacts"] = [a for a in manifest["artifacts"] if a["id"] != art["id"]]

    bad = rewrite(exported.bundle, exported.dir / "dropped.zip", edit)
    assert_fails(check(exported, bad), BundleMemberError, f"artifact {art['id']}", "export record")


def test_content_stripped_and_called_proofs_only(exported: Exported) -> None:
    def edit(files: dict[str, bytes], manifest: dict[str, Any]) -> None:
        for a in manifest["artifacts"]:
            del files[a["file"]]
            a["file"] = None
        manifest["content"] = False

    bad = rewrite(exported.bundle, exported.dir / "stripped.zip", edit)
    first = assert_fails(
        check(exported, bad), MalformedInput, f"event {exported.manifest['export_event']}"
    )
    assert "content" in first.detail


def test_truncated_zip(exported: Exported) -> None:
    data = exported.bundle.read_bytes()
    bad = exported.dir / "truncated.zip"
    bad.write_bytes(data[: len(data) // 2])
    first = failure(check(exported, bad))
    assert first.name == "bundle file" and isinstance(first.error, MalformedInput)


def test_cli_names_the_first_failing_item(exported: Exported) -> None:
    key, root = trust(exported.live, exported.dir)
    index = exported.index_of("annotation")
    bad = rewrite(
        exported.bundle,
        exported.dir / "cli-edited.zip",
        lambda files, _: _edit_event(files, index, text="edited"),
    )
    args = ["--trusted-key", str(key), "--trusted-tsa-ca", str(root)]
    r = cli("verify", str(bad), *args)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "VERIFICATION FAILED" in r.stdout and f"event {index}" in r.stdout
    r = cli("verify", str(bad), "--json", *args)
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    failed = next(c for c in doc["reports"][0]["checks"] if not c["ok"])
    assert failed["error"] == "InclusionProofError" and f"event {index}" in failed["detail"]
    # A forged key is caught when the auditor pins the real one.
    forged = _resign_everything(exported)
    r = cli("verify", str(forged), *args)
    assert r.returncode == 1 and "KeyMismatch" in r.stdout


def test_unpinned_forgery_is_not_verified(exported: Exported) -> None:
    """The reproduction: a bundle re-signed by a vault set up with the same origin, checked
    without pins, used to print "VERIFIED — every check passed" and exit 0."""
    forged = _resign_everything(exported)
    r = cli("verify", str(forged))
    assert r.returncode == 3, r.stdout + r.stderr
    assert "NOT VERIFIED (unpinned)" in r.stdout and "VERIFIED —" not in r.stdout
    assert "--trusted-key" in r.stdout and "locard keys" in r.stdout
    assert "--trusted-tsa-ca" in r.stdout and "tsa-root.pem" in r.stdout
    r = cli("verify", str(forged), "--json")
    doc = json.loads(r.stdout)
    assert r.returncode == 3 and doc["ok"] is False and doc["verdict"] == "unpinned"
    assert doc["unpinned"] == ["log key", "TSA root"] and "locard keys" in doc["pin"]["log key"]
    # Pinning only the key still leaves the TSA root to the evidence.
    key, _ = trust(exported.live, exported.dir)
    r = cli("verify", str(exported.bundle), "--trusted-key", str(key))
    assert r.returncode == 3 and "NOT VERIFIED (unpinned)" in r.stdout
    assert "--trusted-tsa-ca" in r.stdout and "--trusted-key vault.vkey" not in r.stdout


def test_progress_covers_every_member(exported: Exported) -> None:
    seen: list[tuple[int, int, str]] = []
    report = verify_bundle(
        exported.bundle, pinned_policy(exported.live), progress=lambda *a: seen.append(a)
    )
    assert report.ok
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and seen[-1][0] == seen[-1][1] > 0
    stages = {s for _, _, s in seen}
    assert {"manifest", "checkpoints", "timestamps", "events"} <= stages
    assert any(s.startswith("artifact ") for s in stages)
