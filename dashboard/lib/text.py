"""Text as PostgreSQL can hold it, from fields third-party systems filled (docs/architecture.md "Text Celigo
sends").

PostgreSQL refuses the NUL character in ``text`` and ``jsonb``; it is escaped, reversibly, so a field reads
back exactly as Celigo sent it:

* NUL becomes ``ESCAPE`` + ``"0"``;
* ``ESCAPE`` itself (U+10FFFD, the last private-use character of plane 16) becomes ``ESCAPE`` twice.

Text without either is stored unchanged; :func:`restore_text` undoes :func:`escape_text`, and an escape cut in
half by a column's length limit is kept as it is. An unpaired surrogate (``"\\ud800"`` is valid JSON) is not a
character: no UTF-8 bytes exist for it, so nothing could show, export or return it. It becomes U+FFFD.
"""

from __future__ import annotations

import json
import re
from typing import Any

ESCAPE = "\U0010fffd"
_UNSTORABLE = re.compile("[\x00\U0010fffd]")
_ESCAPED = re.compile("\U0010fffd(\U0010fffd|0)")


def escape_text(text: str) -> str:
    """``text`` with NUL and ``ESCAPE`` escaped and unpaired surrogates replaced; unchanged without them."""
    if not is_utf8(text):
        text = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if "\x00" not in text and ESCAPE not in text:
        return text
    return _UNSTORABLE.sub(lambda m: ESCAPE + ("0" if m.group() == "\x00" else ESCAPE), text)


def restore_text(text: str) -> str:
    """The text :func:`escape_text` was given (less any unpaired surrogate)."""
    if ESCAPE not in text:
        return text
    return _ESCAPED.sub(lambda m: "\x00" if m.group(1) == "0" else ESCAPE, text)


def is_utf8(text: str) -> bool:
    """Whether ``text`` has a UTF-8 form (it has none with an unpaired surrogate)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def clean_text(value: Any, limit: int | None = None) -> str:
    """``value`` as text PostgreSQL accepts (escaped, see above), at most ``limit`` characters."""
    if value is None:
        return ""
    text = escape_text(value if isinstance(value, str) else str(value))
    return text[:limit] if limit is not None else text


def clean_json(value: Any) -> Any:
    """A JSON document with every string and key escaped (see above)."""
    if isinstance(value, str):
        return escape_text(value)
    if isinstance(value, dict):
        return {escape_text(str(key)): clean_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    return value


def restore_json(value: Any) -> Any:
    """The document :func:`clean_json` was given."""
    if isinstance(value, str):
        return restore_text(value)
    if isinstance(value, dict):
        return {restore_text(key): restore_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [restore_json(item) for item in value]
    return value


def needs_escape(document: Any) -> bool:
    """Whether a JSON document holds text :func:`clean_json` would change: one C-speed dump finds out."""
    dumped = json.dumps(document, ensure_ascii=False)
    return "\\u0000" in dumped or ESCAPE in dumped or not is_utf8(dumped)
