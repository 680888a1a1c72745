"""Validating a signed report the way a long-term (AdES-LTA) validator does: pyHanko with
fetching disabled and revocation information required, and poppler's `pdfsig` over an NSS
database that trusts only the pinned root."""

from __future__ import annotations

import asyncio
import io
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.ades import AdESLTAValidationResult, ades_lta_validation
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.authority import CertTrustAnchor
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import (
    REQUIRE_REVINFO,
    CertRevTrustPolicy,
    FreshnessReqType,
)
from pyhanko_certvalidator.registry import SimpleTrustManager

from app.reports.signing import SIGNATURE_FIELD


def lta_validate(pdf: bytes, roots: list[bytes]) -> AdESLTAValidationResult:
    """PAdES-LTA validation (ETSI EN 319 102-1 §5.6.3) from the document alone.

    Run in a worker thread with its own event loop: a loop left behind by other tests in
    this process must not decide the outcome."""
    trust = SimpleTrustManager.build(
        trust_roots=[CertTrustAnchor(asn1_x509.Certificate.load(r)) for r in roots]
    )
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=trust,
                revinfo_policy=CertRevTrustPolicy(
                    REQUIRE_REVINFO,
                    freshness_req_type=FreshnessReqType.MAX_DIFF_REVOCATION_VALIDATION,
                ),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    sig = next(
        s
        for s in PdfFileReader(io.BytesIO(pdf)).embedded_regular_signatures
        if s.field_name == SIGNATURE_FIELD
    )
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(ades_lta_validation(sig, spec))).result()


def pdfsig(pdf: bytes, root_pem: bytes, tmp_path: Path) -> str:
    """`pdfsig`'s report with only `root_pem` trusted, in a fresh NSS database."""
    for tool in ("pdfsig", "certutil"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing (scripts/services.sh installs it)")
    nss = tmp_path / "nss"
    nss.mkdir()
    db = f"sql:{nss}"
    subprocess.run(["certutil", "-N", "-d", db, "--empty-password"], check=True)
    (tmp_path / "root.pem").write_bytes(root_pem)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            db,
            "-n",
            "root",
            "-t",
            "CT,C,C",
            "-i",
            str(tmp_path / "root.pem"),
        ],
        check=True,
    )
    (tmp_path / "report.pdf").write_bytes(pdf)
    done = subprocess.run(
        ["pdfsig", "-nssdir", db, str(tmp_path / "report.pdf")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr
