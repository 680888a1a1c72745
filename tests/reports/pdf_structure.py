"""Reading a PDF's logical structure (ISO 32000-1, 14.7-14.8) and its fonts with pyHanko's
parser, for the checks a PDF/A or PDF/UA validator would start with. No validator (veraPDF,
PAC) runs here: these read what is present, they do not prove conformance."""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterator
from typing import Any

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.reader import PdfFileReader


def catalog(pdf: bytes) -> Any:
    return PdfFileReader(io.BytesIO(pdf)).root


def struct_elements(root: Any) -> Iterator[generic.DictionaryObject]:
    """Every structure element under the StructTreeRoot, depth first."""
    stack: list[Any] = [root["/StructTreeRoot"].raw_get("/K")]
    while stack:
        node = stack.pop()
        if isinstance(node, generic.IndirectObject):
            node = node.get_object()
        if isinstance(node, generic.ArrayObject):
            stack.extend(reversed(list(node)))
        elif isinstance(node, generic.DictionaryObject) and "/S" in node:
            yield node
            if "/K" in node:
                stack.append(node.raw_get("/K"))


def tag_counts(root: Any) -> Counter[str]:
    return Counter(str(e["/S"]) for e in struct_elements(root))


def page_fonts(pdf: bytes) -> Iterator[tuple[str, generic.DictionaryObject]]:
    """(font name, font descriptor) of every font any page uses; a composite (Type0) font's
    descriptor is its descendant's."""
    seen: set[int] = set()
    for resources in _page_resources(catalog(pdf)["/Pages"].get_object(), None):
        fonts = resources.get("/Font", generic.DictionaryObject()).get_object()
        for name in fonts:
            ref = fonts.raw_get(name)
            font = ref.get_object()
            key = ref.idnum if isinstance(ref, generic.IndirectObject) else id(font)
            if key in seen:
                continue
            seen.add(key)
            if font["/Subtype"] == "/Type0":
                font = font["/DescendantFonts"][0].get_object()
            yield str(font["/BaseFont"]), font["/FontDescriptor"].get_object()


def _page_resources(node: Any, inherited: Any) -> Iterator[Any]:
    resources = node["/Resources"].get_object() if "/Resources" in node else inherited
    if node.get("/Type") == "/Page":
        yield resources
        return
    for kid in node["/Kids"]:
        yield from _page_resources(kid.get_object(), resources)
