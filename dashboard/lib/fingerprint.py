"""Group errors by what their message says, not by the record it names.

"Order 10442 failed: customer 'ACME' not found" and "Order 99 failed: customer 'Initech' not found" share a
fingerprint: e-mail addresses, URLs, quoted values, ids and numbers are replaced by placeholders first.
"""

from __future__ import annotations

import hashlib
import re

NORMALISED_LIMIT = 2000

_RULES = [
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE), "<url>"),
    (re.compile(r"\"[^\"\n]{0,500}\"|'[^'\n]{0,500}'|`[^`\n]{0,500}`|“[^”\n]{0,500}”"), "<value>"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.IGNORECASE), "<id>"),
    # Hex ids (Mongo ObjectIds and the like) must contain a digit, so plain words survive.
    (re.compile(r"\b(?=[0-9a-f]*\d)[0-9a-f]{8,}\b", re.IGNORECASE), "<id>"),
    (re.compile(r"\b[A-Z]{1,6}[-_]?\d[\w-]*\b"), "<id>"),
    (re.compile(r"\d+(?:[.,:]\d+)*"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalise_message(message: str) -> str:
    # Placeholders rarely lengthen text, so the first stretch decides the normalised prefix we keep.
    text = message[: NORMALISED_LIMIT + 500]
    for pattern, placeholder in _RULES:
        text = pattern.sub(placeholder, text)
    return text.strip()[:NORMALISED_LIMIT]


def fingerprint(message: str) -> tuple[str, str]:
    """The 16-hex fingerprint of a message and the normalised text it was computed from."""
    normalised = normalise_message(message or "")
    return hashlib.sha256(normalised.encode("utf-8", "surrogatepass")).hexdigest()[:16], normalised
