"""Writing the report's HTML as tagged PDF/A-3b (ISO 19005-3) with WeasyPrint, before the
PDF is signed: XMP identification, an sRGB output intent, every font embedded (subsets),
a structure tree (headings, paragraphs, tables with header cells, lists), the document's
language and title shown, and the JSON form attached as an associated file
(AFRelationship /Data).

Why WeasyPrint (over reportlab, which drew the report before): reportlab cannot write a
structure tree, so its PDF could be PDF/A-3b but never tagged; WeasyPrint writes the tags
from the HTML's own structure and lets the report reuse the web pages' stylesheet. It needs
Pango (Debian's libpango-1.0-0 and libpangoft2-1.0-0, which `scripts/services.sh` installs).

The XMP also identifies PDF/UA-1 (pdfuaid:part 1), as WeasyPrint's own "pdf/ua-1" variant
does for the same tags; WeasyPrint calls its tagging experimental, and no PDF/UA or PDF/A
validator (veraPDF, PAC) runs here, so neither conformance is proven, only the structure
the tests can read (tests/reports/test_report_pdfa.py says which).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import ExpandedName, XmpStructure, XmpValue

from app.reports.pdf_style import STYLESHEETS, TEMPLATES

#: PDF/UA identification (ISO 14289-1, 5): in the same XMP description as pdfaid, where
#: pyHanko, which rewrites the XMP when it signs, reads and keeps it
PDFUA_PART = ExpandedName(ns="http://www.aiim.org/pdfua/ns/id/", local_name="part")

# WeasyPrint reports CSS it ignores (the web pages' screen-only rules) as warnings.
logging.getLogger("weasyprint").setLevel(logging.ERROR)


class Attachment(NamedTuple):
    """A file carried inside the PDF as an associated file of the document."""

    name: str
    data: bytes
    description: str
    created: datetime
    #: ISO 32000-2 AFRelationship: /Data is the data the pages show
    relationship: str = "Data"


def write_pdfa(html: str, attachments: Sequence[Attachment] = ()) -> bytes:
    """`html` as tagged PDF/A-3b; the document's title, author, subject and creation time
    come from its <title> and <meta> elements, into both the Info dictionary and the XMP."""
    import weasyprint

    doc = weasyprint.HTML(string=html, base_url=str(TEMPLATES)).render(
        stylesheets=[weasyprint.CSS(filename=str(p)) for p in STYLESHEETS]
    )
    out = io.BytesIO()
    doc.write_pdf(
        out,
        finisher=_without_object_streams,
        pdf_variant="pdf/a-3b",
        pdf_tags=True,
        attachments=[
            weasyprint.Attachment(
                # the name's extension gives the MIME type (report.json: application/json)
                string=a.data,
                name=a.name,
                description=a.description,
                created=a.created,
                modified=a.created,
                relationship=a.relationship,
            )
            for a in attachments
        ],
    )
    return _finish(out.getvalue())


def _without_object_streams(document: Any, pdf: Any) -> None:
    """Objects written plainly (a classic xref table), their streams still compressed.

    pyHanko, which validates the report (ours and a third party's `pyhanko sign
    adesverify`), re-reads an object stream's header for every object it resolves from it:
    with the ~1,650 objects of a tagged report in object streams, resolving them all took
    88 s against 5 s plain (the file grows from 89 to 251 KB)."""
    write = pdf.write
    pdf.write = lambda output, version, identifier, compress: write(
        output, version, identifier, False
    )


def _finish(pdf: bytes) -> bytes:
    """One incremental update before signing: the PDF/UA identification, and each associated
    file listed once (WeasyPrint 70 lists an attachment twice in the catalog's /AF)."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    w.document_meta.xmp_extra.append(XmpStructure.of((PDFUA_PART, XmpValue("1"))))
    if "/AF" in w.root:
        seen: dict[int, generic.IndirectObject] = {}
        for ref in w.root.raw_get("/AF"):
            seen.setdefault(ref.idnum, ref)
        w.root[generic.NameObject("/AF")] = generic.ArrayObject(seen.values())
        w.update_root()  # type: ignore[no-untyped-call]
    out = io.BytesIO()
    w.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()
