"""Text PostgreSQL accepts, from fields third-party systems filled: no NUL, no lone surrogates."""

from __future__ import annotations

import json
from typing import Any


def clean_text(value: Any, limit: int | None = None) -> str:
    """``value`` as text PostgreSQL accepts, at most ``limit`` characters."""
    if value is None:
        return ""
    text = value if isinstance(value, str) else str(value)
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text[:limit] if limit is not None else text


def clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {clean_text(key): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def clean_raw(raw: dict[str, Any]) -> dict[str, Any]:
    """``clean_json`` only when needed: one C-speed dump finds NULs and lone surrogates, which are rare."""
    dumped = json.dumps(raw, ensure_ascii=False)
    try:
        dumped.encode("utf-8")
    except UnicodeEncodeError:
        return dict(clean_json(raw))
    return dict(clean_json(raw)) if "\\u0000" in dumped else raw
