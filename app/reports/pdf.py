"""Rendering a `CaseReport` as a readable, tagged PDF/A-3b (HTML templates, WeasyPrint),
before it is signed.

Written for a court, not a cryptographer: a title page with the case and the bottom line,
then the evidence items (collection and acquisition), their chain of custody with each
hand-over, containment and holds, verification and trust, and a draft FRE 902(13)/(14)
declaration; checkpoint hashes and re-check commands follow in appendices (`appendix`).

Each section is a template and a function giving its context (`sections.Section`); a new
section is one more entry in `SECTIONS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from markupsafe import Markup

from app.events import EventType
from app.reports.appendix import checkpoints_appendix, commands_appendix
from app.reports.declaration import declaration
from app.reports.models import ArtifactReport, CaseReport, CaseSummary
from app.reports.pdf_renewals import renewals_appendix
from app.reports.pdf_style import environment, utc
from app.reports.pdfa import Attachment, write_pdfa
from app.reports.sections import Section, SectionMaker

# -- sections -----------------------------------------------------------------------------------


def _incident(c: CaseSummary) -> list[tuple[str, str]]:
    """Privacy and notification facts, shown only when the vault records them."""
    out: list[tuple[str, str]] = []
    if c.declared_at is not None:
        out.append(("Declared", utc(c.declared_at)))
    if c.personal_data is not None:
        out.append(("Personal data", "possibly exposed" if c.personal_data else "not exposed"))
    if c.notification_required is not None:
        out.append(("Notification", "required" if c.notification_required else "not required"))
    if c.aware_at is not None:
        out.append(("Aware of breach", utc(c.aware_at)))
    if c.notified_at is not None:
        out.append(("Notified", utc(c.notified_at)))
    return out


def title_page(r: CaseReport) -> Section:
    events = sum(len(a.events) for a in r.artifacts) + len(r.case_events)
    return Section("title.html", {"incident": _incident(r.case), "events": events})


def _device(art: ArtifactReport) -> str:
    parts = [
        f"{label} {value}"
        for label, value in (
            ("make", art.device_make),
            ("model", art.device_model),
            ("serial", art.device_serial),
        )
        if value
    ]
    return ", ".join(parts) or "not stated"


def _tool(art: ArtifactReport) -> str:
    tool = art.collection_tool or "not stated"
    if art.tool_version:
        tool += f", version {art.tool_version}"
    return tool + (f" / {art.collection_method}" if art.collection_method else "")


def evidence(r: CaseReport) -> Section:
    roles: dict[str, str] = {}
    for art in r.artifacts:
        ingest = next((e for e in art.events if e.type == EventType.ingest), None)
        roles[art.id] = f" ({ingest.actor.role})" if ingest else ""
    return Section(
        "evidence.html",
        {
            "roles": roles,
            "device": {a.id: _device(a) for a in r.artifacts},
            "tools": {a.id: _tool(a) for a in r.artifacts},
        },
    )


def custody(r: CaseReport) -> Section:
    return Section("custody.html", {})


def case_events(r: CaseReport) -> Section:
    return Section("case_events.html", {})


def verification(r: CaseReport) -> Section:
    return Section("verification.html", {})


def certificates(r: CaseReport) -> Section | None:
    """Every certificate the report's signature and time-stamps rest on, with the window in
    which it may be relied on."""
    certs = list(r.vault.certificates)
    if r.vault.report_signer is not None:
        certs = list(r.vault.report_signer.certificates) + certs
    return Section("certificates.html", {"certificates": certs}) if certs else None


def about(r: CaseReport) -> Section:
    return Section("about.html", {})


#: the report's sections, in reading order
SECTIONS: tuple[SectionMaker, ...] = (
    title_page,
    evidence,
    custody,
    case_events,
    verification,
    certificates,
    about,
    declaration,
    checkpoints_appendix,
    commands_appendix,
    renewals_appendix,
)

# -- document -----------------------------------------------------------------------------------


class DocumentInfo(NamedTuple):
    """The document's title, author and subject: in the Info dictionary and, identically,
    in the PDF/A XMP metadata."""

    title: str
    author: str
    subject: str


def document_info(report: CaseReport) -> DocumentInfo:
    return DocumentInfo(
        title=f"Chain-of-custody report {report.case.id}",
        author=f"Locard vault {report.anchor.origin}",
        subject=f"{report.case.id}: {report.case.title}",
    )


def _css_string(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in " .·-_:/" else f"\\{ord(ch):x} " for ch in text)


def render_html(report: CaseReport, sections: Sequence[SectionMaker] = SECTIONS) -> str:
    env = environment()
    body = []
    for make in sections:
        section = make(report)
        if section is not None:
            html = env.get_template(section.template).render(r=report, **section.context)
            body.append(Markup(html))
    info = document_info(report)
    footer = (
        f"Locard chain-of-custody report · {report.case.id} · "
        f"as of checkpoint {report.anchor.size} of {report.anchor.origin}"
    )
    return env.get_template("report.html").render(
        info=info,
        created=report.generated_at.isoformat(),
        footer_css=Markup(_css_string(footer)),
        sections=body,
    )


def render_pdf(report: CaseReport, attachments: Sequence[Attachment] = ()) -> bytes:
    """The report as tagged PDF/A-3b with `attachments` as its associated files."""
    return write_pdfa(render_html(report), attachments)
