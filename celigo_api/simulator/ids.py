"""Deterministic identifiers and hashing.

Everything the simulator invents (ids, error contents, retry outcomes) derives from a 64-bit mix of the
seed and a position, so a world is reproducible without storing it (issue 3: a million errors must not cost
gigabytes). The mixer is SplitMix64: tiny, fast in pure Python and well distributed.
"""

from __future__ import annotations

import hashlib

MASK64 = (1 << 64) - 1
# Mongo ObjectIds start with a creation timestamp in seconds (docs/celigo-api.md §1.6: ids are 24-hex
# ObjectIds).
# A fixed epoch keeps ids stable across runs of the same seed, so a bookmarked demo URL keeps working.
_ID_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z


def mix64(value: int) -> int:
    """SplitMix64 finaliser: a well-spread 64-bit hash of ``value``."""
    value = (value + 0x9E3779B97F4A7C15) & MASK64
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK64
    return value ^ (value >> 31)


def hash_text(*parts: object) -> int:
    """A stable 64-bit hash of arbitrary printable parts (not Python's randomised ``hash``)."""
    digest = hashlib.blake2b("\x1f".join(str(p) for p in parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def object_id(salt: int, kind: str, ordinal: int) -> str:
    """A 24-hex ObjectId-looking id, unique per (salt, kind, ordinal)."""
    h = mix64(salt ^ hash_text(kind, ordinal))
    seconds = _ID_EPOCH + (h >> 40) % (400 * 86400)
    return f"{seconds:08x}{mix64(h) & ((1 << 64) - 1):016x}"


def pick(h: int, options: list[str] | tuple[str, ...]) -> str:
    """Choose one of ``options`` from hash bits."""
    return options[h % len(options)]
