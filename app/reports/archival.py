"""An archive document timestamp on an issued report (PAdES-LTA's renewal step).

pyHanko's archival timestamp chain validates the report's newest document timestamp against
the vault's trust roots and the revocation data handed to it (nothing is fetched), stores
that validation data in the DSS, and seals it all with a new document timestamp: the report
then validates after the older TSA certificate expires, as long as the newest one has not.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.signers.pdf_signer import PdfTimeStamper
from pyhanko_certvalidator import ValidationContext

from app.reports.signing import ReportSigningError, VaultTimeStamper
from custody.timestamps import TimestampAuthority


def archive_field(version: int) -> str:
    return f"LocardArchiveTimestamp{version}"


def add_archive_timestamp(
    pdf: bytes,
    authority: TimestampAuthority,
    *,
    roots: Sequence[bytes],
    crls: Sequence[bytes],
    version: int,
) -> tuple[bytes, tuple[bytes, ...]]:
    """The report with one more document timestamp by `authority`, and that token's chain.

    `roots` are every trust anchor the report's timestamps and signature rest on (DER),
    `crls` the revocation data the vault holds for their chains, embedded fresh.
    """
    stamper = VaultTimeStamper(authority)
    context = ValidationContext(
        trust_roots=[asn1_x509.Certificate.load(r) for r in roots],
        crls=list(crls),
        allow_fetching=False,
        # An external TSA that publishes no CRL must not block the renewal: what the vault
        # has is embedded, what it lacks a validator judges by its own policy.
        revocation_mode="soft-fail",
    )
    timestamper = PdfTimeStamper(stamper, field_name=archive_field(version))
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        out = io.BytesIO()
        # pyHanko runs its own event loop: a thread of its own whatever the caller runs.
        with ThreadPoolExecutor(1, thread_name_prefix="report-renewal") as pool:
            pool.submit(
                timestamper.update_archival_timestamp_chain,
                reader,
                context,
                in_place=False,
                output=out,
            ).result()
    except ReportSigningError:
        raise
    except Exception as exc:  # pyHanko and the TSA raise many types; all mean "not renewed"
        raise ReportSigningError(f"adding the archive timestamp failed: {exc}") from exc
    return out.getvalue(), stamper.last_chain
