"""JSON that people type or other systems send, parsed with bounds so no input can exhaust the stack.

``json.loads`` recurses once per nesting level, so ``[`` repeated 100,000 times raises ``RecursionError``,
and a document just under the interpreter's limit would make every recursive reader after it (diffs,
templates) fail instead. :func:`loads` refuses both with a ``ValueError`` that says why,
like any other bad JSON.

:func:`storable_problem` names what PostgreSQL cannot keep in a ``jsonb`` column or send as UTF-8: the NUL
character and unpaired surrogates (``"\\ud800"`` is valid JSON, but no valid text).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 64


class JSONTooDeep(ValueError):
    pass


def loads(text: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` that refuses documents nested deeper than ``max_depth`` (raises ``ValueError``)."""
    try:
        value = json.loads(text)
    except RecursionError:
        raise JSONTooDeep(f"nested deeper than {max_depth} levels") from None
    if depth(value, max_depth) > max_depth:
        raise JSONTooDeep(f"nested deeper than {max_depth} levels")
    return value


def depth(value: Any, stop_after: int) -> int:
    """How deep ``value`` nests (a scalar is 0, ``[]`` is 1), counted without recursion.

    Counting stops once it passes ``stop_after``.
    """
    deepest = 0
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        if deepest > stop_after:
            return deepest
        pending.extend((child, level) for child in children)
    return deepest


def storable_problem(value: Any) -> str | None:
    """Why ``value`` cannot be stored as text (a NUL, an unpaired surrogate), naming where; None if it can."""
    pending: list[tuple[Any, str]] = [(value, "")]
    while pending:
        item, path = pending.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                problem = text_problem(key)
                if problem:
                    return f"{problem} in a key at {path.strip('.') or 'the top level'}"
                pending.append((child, f"{path}.{key}"))
        elif isinstance(item, list):
            pending.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
        elif isinstance(item, str):
            problem = text_problem(item)
            if problem:
                return f"{problem} at {path.strip('.') or 'the top level'}"
    return None


def text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "a NUL character (\\u0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired surrogate (\\ud800 to \\udfff)"
    return None
