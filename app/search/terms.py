"""Words, for the index and for queries alike, so SQLite and PostgreSQL match the same.

Both engines get text that is already split into lower-case letters-and-digits words
joined by spaces: FTS5's unicode61 tokenizer and PostgreSQL's `simple` configuration then
see the same words (PostgreSQL would otherwise read `memory.raw` as one host name token
and `WS-FIN-042` as a hyphenated word). A query is reduced to such words too, so no FTS
syntax (`"`, `NEAR(`, `:*`, `&`, `!`) can reach either engine.
"""

from __future__ import annotations

import re

from app.errors import BadRequest

_WORD = re.compile(r"[^\W_]+")

MAX_QUERY = 200
MAX_WORDS = 8


class BadQuery(BadRequest):
    """A search query with no words, or too long."""


def words(text: str) -> list[str]:
    return _WORD.findall(text.casefold())


def query_words(q: str) -> list[str]:
    if len(q) > MAX_QUERY:
        raise BadQuery(f"a query has at most {MAX_QUERY} characters")
    found = list(dict.fromkeys(words(q)))
    if not found:
        raise BadQuery("a query needs at least one word (letters or digits)")
    if len(found) > MAX_WORDS:
        raise BadQuery(f"a query has at most {MAX_WORDS} words")
    return found


def fts5_match(ws: list[str]) -> str:
    """Every word as a prefix; words hold letters and digits only, so quoting is safe."""
    return " AND ".join(f'"{w}"*' for w in ws)


def tsquery(ws: list[str]) -> str:
    return " & ".join(f"{w}:*" for w in ws)
