"""Small helpers the summaries share: clipped text and human sizes."""

from __future__ import annotations

import json
from typing import Any


def short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def size(n: Any) -> str:
    if not isinstance(n, int):
        return "? bytes"
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{n} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} bytes"  # pragma: no cover - the loop always returns


def changes_text(changes: dict[str, Any], limit: int = 40) -> str:
    return "; ".join(
        f"{name}: {short(pair[0], limit)} → {short(pair[1], limit)}"
        for name, pair in changes.items()
        if isinstance(pair, list | tuple) and len(pair) == 2
    )
