"""Offline verification of an evidence bundle (`locard-bundle/3`, `/2`, `/1`): no network.

A bundle is the zip that `GET /v1/cases/{case}/bundle` (`locard export`) streams. `layout`
names its members, `manifest` defines its table of contents and `proofs` its proof members,
`members` reads them bounded and digest-checked, `checks` verifies keys, checkpoints, tokens,
history and events, and `contents` what the export and ingest events say the bundle holds.
The exporter (app.bundles) writes with the same definitions.
"""

from verify.bundle.checks import verify_bundle
from verify.bundle.layout import (
    KEY_HISTORY_MEMBER,
    LOG_KEY_MEMBER,
    MANIFEST,
    MAX_SMALL_MEMBER,
    artifact_member,
    checkpoint_member,
    consistency_member,
    event_member,
    member_limit,
    proof_member,
    renewal_member,
    safe_component,
    token_member,
    tsa_chain_member,
    tsa_root_member,
)
from verify.bundle.manifest import (
    BUNDLE_FORMAT,
    MAX_MANIFEST_BYTES,
    BundleManifest,
    artifact_entry,
    checkpoint_entry,
    event_entry,
    expected_members,
    file_entry,
    manifest_json,
    parse_manifest,
    token_entry,
    tsa_entry,
)
from verify.bundle.members import ProgressFn
from verify.bundle.proofs import consistency_proof_json, inclusion_proof_json

__all__ = [
    "BUNDLE_FORMAT",
    "KEY_HISTORY_MEMBER",
    "LOG_KEY_MEMBER",
    "MANIFEST",
    "MAX_MANIFEST_BYTES",
    "MAX_SMALL_MEMBER",
    "BundleManifest",
    "ProgressFn",
    "artifact_entry",
    "artifact_member",
    "checkpoint_entry",
    "checkpoint_member",
    "consistency_member",
    "consistency_proof_json",
    "event_entry",
    "event_member",
    "expected_members",
    "file_entry",
    "inclusion_proof_json",
    "manifest_json",
    "member_limit",
    "parse_manifest",
    "proof_member",
    "renewal_member",
    "safe_component",
    "token_entry",
    "token_member",
    "tsa_entry",
    "tsa_chain_member",
    "tsa_root_member",
    "verify_bundle",
]
