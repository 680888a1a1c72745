"""Reading a PDF's logical structure (ISO 32000-1, 14.7-14.8) and its fonts with qpdf
(pikepdf), for the checks a PDF/A or PDF/UA validator would start with. No validator
(veraPDF, PAC) runs here: these read what is present, they do not prove conformance.

qpdf rather than pyHanko's parser: pyHanko re-reads an object stream's header for every
object it resolves from it, which makes walking a structure tree of ~1,800 elements take
minutes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from io import BytesIO
from typing import Any

import pikepdf


def open_pdf(pdf: bytes) -> pikepdf.Pdf:
    return pikepdf.open(BytesIO(pdf))


def struct_elements(doc: pikepdf.Pdf) -> Iterator[pikepdf.Dictionary]:
    """Every structure element under the StructTreeRoot, depth first."""
    stack: list[Any] = [doc.Root.StructTreeRoot.get("/K")]
    while stack:
        node = stack.pop()
        if isinstance(node, pikepdf.Array):
            stack.extend(reversed(list(node)))
        elif isinstance(node, pikepdf.Dictionary) and "/S" in node:
            yield node
            if "/K" in node:
                stack.append(node.K)


def tag_counts(doc: pikepdf.Pdf) -> Counter[str]:
    return Counter(str(e.S) for e in struct_elements(doc))


def page_fonts(doc: pikepdf.Pdf) -> Iterator[tuple[str, pikepdf.Dictionary]]:
    """(font name, font descriptor) of every font any page uses; a composite (Type0) font's
    descriptor is its descendant's."""
    seen: set[tuple[int, int]] = set()
    for page in doc.pages:
        fonts = page.Resources.get("/Font", pikepdf.Dictionary())
        for _, font in fonts.items():
            if font.objgen in seen:
                continue
            seen.add(font.objgen)
            if font.Subtype == "/Type0":
                font = font.DescendantFonts[0]
            yield str(font.BaseFont), font.FontDescriptor
