"""An external TSA's revocation data, fetched once when a report is signed or renewed.

The vault holds CRLs for its own PKI; an external TSA's come from the distribution points
its certificates name. They are fetched here, once per signing, checked against the
certificate that must have issued them, kept in the write-once store beside the vault's own
(`pki/crl/<sha256>.crl`), and handed to pyHanko, which embeds them in the report's DSS: a
validator years later needs neither the URL nor the TSA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from custody.ledger import Ledger, UnknownEntry
from custody.pki import crl_store_key
from custody.timestamps import HttpTSA, TimestampAuthority
from storage.base import ObjectStore

#: a CRL larger than this is not one a TSA's small CA publishes
MAX_CRL_BYTES = 4 * 1024 * 1024
FETCH_TIMEOUT_S = 10.0
#: what a probe token is asked to stamp when the vault has no token of the TSA yet
_PROBE = hashlib.sha256(b"locard: which certificates does this TSA sign with?").digest()


class RevocationFetchError(Exception):
    """A distribution point did not give a CRL signed by the certificate's issuer."""


def tsa_chain(authority: TimestampAuthority, known: Sequence[bytes] = ()) -> tuple[bytes, ...]:
    """The TSA's certificate chain (TSA certificate … root): `known` (from a token the vault
    already holds), else from a probe token."""
    if known:
        return tuple(known)
    return authority.timestamp(_PROBE).chain_der


def known_chain(ledger: Ledger, tsa: str) -> tuple[bytes, ...]:
    """The chain of the TSA's token on the latest checkpoint, if it has one."""
    try:
        stamps = ledger.checkpoint().timestamps
    except UnknownEntry:
        return ()
    return next((t.chain_der for t in stamps if t.tsa == tsa), ())


def distribution_points(cert: x509.Certificate) -> list[str]:
    try:
        points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except x509.ExtensionNotFound:
        return []
    return [
        n.value
        for point in points
        for n in (point.full_name or [])
        if isinstance(n, x509.UniformResourceIdentifier) and n.value.startswith("http")
    ]


def fetch_crls(store: ObjectStore, chain: Sequence[bytes]) -> list[bytes]:
    """One CRL for every certificate of `chain` below its root that names where to get it,
    each verified against its issuer and archived. Raises RevocationFetchError."""
    certs = [x509.load_der_x509_certificate(c) for c in chain]
    out: list[bytes] = []
    with httpx.Client(timeout=FETCH_TIMEOUT_S, follow_redirects=False) as client:
        for i, cert in enumerate(certs):
            issuer = certs[i + 1] if i + 1 < len(certs) else None
            urls = distribution_points(cert)
            if issuer is None or not urls:
                continue
            crl = _load(_fetch(client, urls[0]), urls[0])
            der = crl.public_bytes(Encoding.DER)
            if crl.issuer != issuer.subject or not crl.is_signature_valid(
                issuer.public_key()  # type: ignore[arg-type]
            ):
                raise RevocationFetchError(f"{urls[0]} served a CRL not signed by {issuer.subject}")
            store.put_bytes(crl_store_key(der), der)
            out.append(der)
    return out


def external_crls(
    store: ObjectStore, authority: TimestampAuthority, known: Sequence[bytes] = ()
) -> tuple[tuple[bytes, ...], list[bytes]]:
    """The chain and fetched CRLs of an external TSA; nothing for the vault's own."""
    if not isinstance(authority, HttpTSA):
        return (), []
    chain = tsa_chain(authority, known)
    return chain, fetch_crls(store, chain)


def _fetch(client: httpx.Client, url: str) -> bytes:
    try:
        with client.stream("GET", url) as r:
            if r.status_code != 200:
                raise RevocationFetchError(f"{url} answered HTTP {r.status_code}")
            body = bytearray()
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > MAX_CRL_BYTES:
                    raise RevocationFetchError(f"{url} sent more than {MAX_CRL_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise RevocationFetchError(f"{url} unreachable: {exc!r}") from exc
    return bytes(body)


def _load(data: bytes, url: str) -> x509.CertificateRevocationList:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise RevocationFetchError(f"{url} did not serve a CRL: {exc}") from exc
