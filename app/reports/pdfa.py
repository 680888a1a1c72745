"""PDF/A-3b for the report: XMP identification, an sRGB output intent, and the JSON form
attached as an associated file (ISO 19005-3), before the PDF is signed.

reportlab draws the pages (fonts embedded as TrueType subsets) and pyHanko, which signs the
report anyway, writes the XMP and keeps it consistent with the Info dictionary. WeasyPrint
would also tag the document (PDF/UA) and share templates with the web pages, but needs Pango,
which this deployment does not carry; reportlab cannot write a structure tree, so the report
is PDF/A-3b (not 3a) and untagged.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime

from PIL import ImageCms
from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.model import (
    NS,
    ExpandedName,
    XmpStructure,
    XmpValue,
)

PDFA_PART = ExpandedName(ns=NS["pdfaid"], local_name="part")
PDFA_CONFORMANCE = ExpandedName(ns=NS["pdfaid"], local_name="conformance")
SRGB = "sRGB IEC61966-2.1"


def _srgb_profile() -> bytes:
    return bytes(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())


def as_pdfa3b(
    pdf: bytes,
    *,
    title: str,
    author: str,
    subject: str,
    created: datetime,
    attachments: Sequence[tuple[str, bytes, str, str]] = (),
) -> bytes:
    """`pdf` as PDF/A-3b; `attachments` are (name, bytes, MIME type, description), each
    attached as source data of the document (AFRelationship /Data)."""
    w = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = w.document_meta
    meta.title, meta.author, meta.subject, meta.creator = title, author, subject, "Locard"
    meta.created = created
    meta.xmp_extra.append(
        XmpStructure.of((PDFA_PART, XmpValue("3")), (PDFA_CONFORMANCE, XmpValue("B")))
    )
    components = generic.NumberObject(3)  # type: ignore[no-untyped-call]
    profile = generic.StreamObject(
        {generic.NameObject("/N"): components}, stream_data=_srgb_profile()
    )
    intent = generic.DictionaryObject(  # type: ignore[no-untyped-call]
        {
            generic.NameObject("/Type"): generic.NameObject("/OutputIntent"),
            generic.NameObject("/S"): generic.NameObject("/GTS_PDFA1"),
            generic.NameObject("/OutputConditionIdentifier"): generic.TextStringObject(SRGB),
            generic.NameObject("/Info"): generic.TextStringObject(SRGB),
            generic.NameObject("/DestOutputProfile"): w.add_object(profile),
        }
    )
    w.root[generic.NameObject("/OutputIntents")] = generic.ArrayObject([w.add_object(intent)])
    w.update_root()  # type: ignore[no-untyped-call]
    for name, data, mime, description in attachments:
        embed.embed_file(
            w,
            embed.FileSpec(
                file_spec_string=name,
                file_name=name,
                embedded_data=embed.EmbeddedFileObject.from_file_data(
                    w,
                    data,
                    mime_type=mime,
                    params=embed.EmbeddedFileParams(
                        creation_date=created, modification_date=created
                    ),
                ),
                description=description,
                af_relationship=generic.NameObject("/Data"),
            ),
        )
    out = io.BytesIO()
    w.write(out)  # type: ignore[no-untyped-call]
    return out.getvalue()
