"""The re-check commands a report prints: what a third party runs, trusting nothing the
vault says, to re-derive every fact and check in it with public tools and `locard verify`."""

from __future__ import annotations

import shlex

from app.reports.models import Anchor, ArtifactReport, Command, ReportSigner, VaultInfo


def root_file(tsa: str, self_operated: bool) -> str:
    """The file name the re-check commands give a TSA's root certificate."""
    return "tsa-root.pem" if self_operated else f"{tsa}-root.pem"


def commands(
    case_id: str,
    anchor: Anchor,
    vault: VaultInfo,
    artifacts: list[ArtifactReport],
    signer: ReportSigner | None,
) -> list[Command]:
    """What a third party runs, with no trust in the vault, to re-check this report.

    `signer` is set for the signed PDF, whose own checks (signature, attachment) are added.
    """
    q = shlex.quote
    document = f"{q(case_id)}-custody-report.{'pdf' if signer else 'json'}"
    auth = '-H "Authorization: Bearer $LOCARD_TOKEN"'
    roots = {t.name: root_file(t.name, t.self_operated) for t in vault.tsas}
    pins = "--trusted-key vault.vkey " + " ".join(
        f"--trusted-tsa-ca {f}" for f in dict.fromkeys(roots.values())
    )
    cmds = [
        Command(
            purpose="Pin the vault's checkpoint key stated in this report",
            command=f"printf '%s\\n' {q(vault.log_key)} > vault.vkey",
        )
    ]
    for info in vault.tsas:
        source = "GET /v1/keys" if info.self_operated else "its operator"
        cmds.append(
            Command(
                purpose=(
                    f"Obtain the root of TSA {info.name} ({source}) and compare its SHA-256 "
                    "fingerprint with the one in this report"
                ),
                command=f"openssl x509 -in {roots[info.name]} -noout -fingerprint -sha256",
            )
        )
    cmds += [
        Command(
            purpose="Fetch the receipt of any event N (leaf index) against the anchor checkpoint",
            command=(
                f'curl -s {auth} "$LOCARD_SERVER/v1/ledger/receipts/N?tree_size={anchor.size}" '
                "> receipt-N.json"
            ),
        ),
        Command(
            purpose=(
                "Verify it offline: event hash, checkpoint signature, inclusion proof, "
                "RFC 3161 tokens"
            ),
            command=f"locard verify receipt-N.json {pins}",
        ),
    ]
    for art in artifacts:
        cmds.append(
            Command(
                purpose=(
                    f"Verify the ingest of {art.id} together with a copy of its bytes "
                    "(SHA-256, SHA-1, MD5 and size)"
                ),
                command=(
                    f"locard verify receipt-{art.ingest_index}.json --artifact "
                    f"{q(art.file_name)} {pins}"
                ),
            )
        )
    bundle = f"{q(case_id)}-bundle.zip"
    cmds += [
        Command(
            purpose=(
                "Or check the whole case at once: export its evidence bundle (proofs only; drop "
                "--no-content to include and re-hash the evidence bytes, which records accesses)"
            ),
            command=f"locard export {q(case_id)} -o {bundle} --no-content",
        ),
        Command(
            purpose=(
                "Verify the bundle offline: every event, chain link, proof, checkpoint and token "
                "(it also holds events sealed after this report)"
            ),
            command=f"locard verify {bundle} {pins}",
        ),
    ]
    cmds.append(
        Command(
            purpose="Recompute the anchor checkpoint's digest (the imprint of its TSA tokens)",
            command=f"printf {q(anchor.body.replace(chr(10), chr(92) + 'n'))} | sha256sum",
        )
    )
    if signer is not None:
        cmds.append(
            Command(
                purpose="Take report.json out of the signed PDF (or fetch it from the vault)",
                command=f"pdfdetach -savefile report.json -o report.json {document}",
            )
        )
    for t in anchor.timestamps:
        tsr = f"checkpoint-{anchor.size}-{t.tsa}.tsr"
        ca = root_file(t.tsa, t.self_operated)
        cmds.append(
            Command(
                purpose=f"Extract the {t.tsa} token of the anchor checkpoint from report.json",
                command=(
                    f"jq -r '.anchor.timestamps[] | select(.tsa == \"{t.tsa}\") | .token' "
                    f"report.json | base64 -d > {tsr}"
                ),
            )
        )
        cmds.append(
            Command(
                purpose=(
                    f"Verify that token with OpenSSL ({t.tsa}, genTime "
                    f"{t.gen_time:%Y-%m-%d %H:%M:%S} UTC)"
                ),
                command=(f"openssl ts -verify -digest {anchor.body_sha256} -in {tsr} -CAfile {ca}"),
            )
        )
    if signer is not None:
        trust = ["tsa-root.pem" if signer.issued_by_tsa_root else "report-signer.pem"]
        ts_root = roots.get(signer.timestamped_by)
        if ts_root and ts_root not in trust:
            trust.append(ts_root)
        pins = " ".join(f"--trust {t}" for t in trust)
        if signer.long_term:
            check = Command(
                purpose=(
                    "Validate this PDF's PAdES signature AdES-style, revocation required, from "
                    "the CRLs embedded in it (pip install pyhanko-cli)"
                ),
                command=f"pyhanko sign adesverify --pretty-print --trust-replace {pins} {document}",
            )
        else:
            # Some certificate's revocation data is not embedded (an external TSA's): a
            # distribution point that cannot be reached must not fail the signature.
            check = Command(
                purpose=(
                    "Validate this PDF's PAdES signature and document timestamp "
                    "(pip install pyhanko-cli)"
                ),
                command=(
                    "pyhanko sign validate --pretty-print --soft-revocation-check "
                    f"--trust-replace {pins} {document}"
                ),
            )
        cmds.append(check)
    cmds.append(
        Command(
            purpose=(
                "Confirm the vault recorded issuing this document: the SHA-256 must equal the "
                "sha256 of a report.issued event of the case (its leaf index is returned in "
                "the X-Locard-Event-Index header and listed in later reports); verify that "
                "event's receipt as above"
            ),
            command=f"sha256sum {document}",
        )
    )
    return cmds
