"""`locard renew` and the renewal job of `locard serve`: keep the vault's evidence
verifiable after its time-stamps' certificates expire.

One pass re-timestamps the checkpoint tokens that are due in one archive timestamp
(`custody.renewal`) and adds an archive document timestamp to every issued report that is
due (`app.reports.archival`), each stored as a new write-once object and sealed as an event
(`evidence.renewed`, `report.renewed`). A renewal adds proof only when the renewer is a TSA
the vault does not control: an external TSA is used when one is configured; with the
built-in TSA alone the pass still runs and says that the renewer is the vault itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from app.events import EventType, draft
from app.events.renewal_events import EvidenceRenewed, ReportRenewed
from app.reports import archive
from app.reports.archival import add_archive_timestamp
from app.reports.revocation import external_crls, known_chain, tsa_chain
from app.vault import Vault
from custody import pki
from custody import renewal as tokens
from custody.keyring import TSA_DIR
from custody.ledger import EventDraft
from custody.timestamps import HttpTSA, TimestampAuthority
from verify.renewal import chain_expiry

log = logging.getLogger(__name__)

#: who a renewal's events name as their actor: the vault's own renewal job
ACTOR = ("locard-renewer", "admin")

#: seals one event and returns its leaf index (the CLI seals directly, the server through
#: its sequencer)
Seal = Callable[[EventDraft], int]


@dataclass(frozen=True)
class Renewer:
    authority: TimestampAuthority
    #: the vault's own TSA: its renewal keeps tokens readable but proves nothing new
    self_operated: bool
    #: when the renewer's own certificate chain expires: renewing what expires later than
    #: that would add nothing
    expires: datetime

    @property
    def description(self) -> str:
        if self.self_operated:
            return f"{self.authority.name} (the vault itself: no independent proof)"
        return f"{self.authority.name} (external TSA)"


@dataclass(frozen=True)
class TokenRenewal:
    seq: int
    key: str
    leaves: int
    reasons: tuple[str, ...]
    event_index: int


@dataclass(frozen=True)
class ReportRenewal:
    case: str
    issued_sha256: str
    version: int
    sha256: str
    reason: str
    event_index: int


@dataclass
class RenewalRun:
    renewer: Renewer
    tokens: TokenRenewal | None = None
    reports: list[ReportRenewal] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def renewer_of(vault: Vault) -> Renewer:
    """The configured external TSA (its chain from its newest token, else from a probe
    token), else the built-in one."""
    external = [a for a in vault.authorities if isinstance(a, HttpTSA)]
    if external:
        chain = tsa_chain(external[0], known_chain(vault.ledger, external[0].name))
        return Renewer(external[0], False, chain_expiry(chain))
    own = vault.keyring.tsa
    chain = (own.cert_der, *own.intermediates_der, own.root_cert_der)
    return Renewer(own, True, chain_expiry(chain))


def renew(
    vault: Vault, seal: Seal, *, now: datetime | None = None, force: bool = False
) -> RenewalRun:
    """One pass over the checkpoint tokens and the issued reports."""
    now = now or datetime.now(UTC)
    horizon = timedelta(days=vault.settings.renew_before_days)
    run = RenewalRun(renewer_of(vault))
    if not force and run.renewer.expires - now <= horizon:
        # Whatever is due for expiry would be renewed by a certificate expiring as soon.
        run.warnings.append(
            f"the renewer's certificate expires {run.renewer.expires:%Y-%m-%d}, within "
            f"{horizon.days} days: configure a TSA whose certificate outlives the evidence"
        )
    try:
        run.tokens = renew_tokens(vault, run.renewer, seal, now=now, horizon=horizon, force=force)
    except Exception as exc:  # reports are renewed even when the tokens' TSA call failed
        log.exception("renewing checkpoint tokens failed")
        run.failures.append(f"checkpoint tokens: {exc}")
    versions = list(archive.latest_versions(vault.store))
    crls: list[bytes] = []
    if versions:
        try:
            crls = vault_crls(vault) + renewer_crls(vault, run.renewer)
        except Exception as exc:  # without them the reports would renew with less proof
            log.exception("gathering revocation data for report renewals failed")
            run.failures.append(f"revocation data: {exc}")
            return run
    for version in versions:
        why = "renewal forced" if force else _report_due(version, run.renewer, now, horizon)
        if why is None:
            continue
        try:
            run.reports.append(renew_report(vault, run.renewer, seal, version, why, crls))
        except Exception as exc:  # one report's failure leaves the others to renew
            log.exception("renewing report %s failed", version.key)
            run.failures.append(f"report {version.case} {version.issued_sha256[:16]}: {exc}")
    return run


def renew_tokens(
    vault: Vault,
    renewer: Renewer,
    seal: Seal,
    *,
    now: datetime,
    horizon: timedelta,
    force: bool = False,
) -> TokenRenewal | None:
    index = tokens.RenewalIndex(tokens.read_renewals(vault.store))
    own = frozenset(a.name for a in vault.authorities if not isinstance(a, HttpTSA))
    own |= {vault.keyring.tsa.name}
    # Two streaming passes rather than every token in memory at once.
    external = frozenset(size for size, t in vault.ledger.timestamps() if t.tsa not in own)
    due = tokens.due_heads(
        vault.ledger.timestamps(),
        index,
        own,
        now=now,
        horizon=horizon,
        independent=not renewer.self_operated,
        externally_stamped=external,
        renewer_expires=renewer.expires,
        force=force,
    )
    if not due:
        return None
    made = tokens.renew(
        vault.store,
        index,
        [h for h, _ in due],
        renewer.authority,
        self_operated=renewer.self_operated,
    )
    reasons = tuple(sorted({why for _, why in due}))
    body = EvidenceRenewed(
        seq=made.seq,
        key=tokens.renewal_key(made.seq),
        tsa=made.tsa,
        self_operated=made.self_operated,
        gen_time=made.gen_time.isoformat(),
        root=made.root.hex(),
        leaves=len(made.leaves),
        token_sha256=tokens.token_sha256(made.token),
        reason="; ".join(reasons)[:500],
    )
    index_ = seal(draft(*ACTOR, EventType.evidence_renewed, body))
    return TokenRenewal(made.seq, body.key, len(made.leaves), reasons, index_)


def _report_due(
    v: archive.ReportVersion, renewer: Renewer, now: datetime, horizon: timedelta
) -> str | None:
    if v.expires - now <= horizon and renewer.expires > v.expires:
        return f"its newest timestamp's TSA certificate expires {v.expires:%Y-%m-%d}"
    if v.self_operated and not renewer.self_operated:
        return "its newest timestamp comes from the vault's own TSA"
    return None


def renew_report(
    vault: Vault,
    renewer: Renewer,
    seal: Seal,
    v: archive.ReportVersion,
    why: str,
    crls: list[bytes],
) -> ReportRenewal:
    # A report is a few hundred kilobytes, not an artifact: read whole, as pyHanko needs.
    pdf = vault.store.read_bytes(v.key)
    number = v.version + 1
    # A pass that died between a version's PDF and its description left the PDF: the
    # write-once key is taken, so this renewal takes the next number.
    while vault.store.exists(archive.version_key(v.case, v.issued_sha256, number)):
        number += 1
    roots = {r for a in (*vault.authorities, vault.keyring.tsa) for r in a.trust_roots()}
    roots.update(renewer.authority.trust_roots())
    renewed, chain = add_archive_timestamp(
        pdf, renewer.authority, roots=sorted(roots), crls=crls, version=number
    )
    sha = hashlib.sha256(renewed).hexdigest()
    version = archive.ReportVersion(
        v.case,
        v.issued_sha256,
        number,
        sha,
        renewer.authority.name,
        renewer.self_operated,
        chain_expiry(chain) if chain else datetime.now(UTC),
    )
    archive.keep(vault.store, version, renewed)
    body = ReportRenewed(
        issued_sha256=v.issued_sha256,
        previous_sha256=v.sha256,
        sha256=sha,
        size=len(renewed),
        version=version.version,
        key=version.key,
        tsa=renewer.authority.name,
        self_operated=renewer.self_operated,
        reason=why,
    )
    index = seal(draft(*ACTOR, EventType.report_renewed, body, case=v.case))
    return ReportRenewal(v.case, v.issued_sha256, version.version, sha, why, index)


def renewer_crls(vault: Vault, renewer: Renewer) -> list[bytes]:
    """An external renewer's CRLs, fetched once per pass and archived (see revocation)."""
    known = known_chain(vault.ledger, renewer.authority.name)
    return external_crls(vault.store, renewer.authority, known)[1]


def vault_crls(vault: Vault) -> list[bytes]:
    """The built-in PKI's current CRLs (fresh: re-signed daily), embedded with each renewal."""
    vault.renew_crls()
    out = []
    for current in (pki.current_crl, pki.root_crl):
        with contextlib.suppress(pki.PKIError, OSError):
            if (der := current(vault.settings.keys_dir / TSA_DIR)) is not None:
                out.append(der)
    return out
