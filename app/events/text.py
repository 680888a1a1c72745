"""Small helpers the summaries share: clipped text and human sizes."""

from __future__ import annotations

from typing import Any


def plain(value: Any) -> str:
    """A body value as prose: lists as "a, b", objects as "key: value; …", never JSON, which
    reads as noise in a custody document."""
    if isinstance(value, str):
        return value
    if value is None:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(plain(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {plain(v)}" for k, v in value.items())
    return str(value)


def short(value: Any, limit: int = 160) -> str:
    text = " ".join(plain(value).split())
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
