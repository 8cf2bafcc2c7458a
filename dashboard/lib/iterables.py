"""Reading long sequences lazily: in chunks, and ahead of the consumer in a thread."""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def chunked(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size``, read lazily (pages of errors, ids of a batch)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def primed(items: Iterator[T]) -> Iterator[T]:
    """``items``, with its first item read now: whatever fails in getting started fails here, not later."""
    try:
        first = next(items)
    except StopIteration:
        return iter(())
    return itertools.chain((first,), items)


def prefetched(batches: Iterator[T], depth: int = 2) -> Iterator[T]:
    """Read the next items of ``batches`` in a thread while the caller works on the current one.

    Only the fetching thread consumes the iterator; an exception raised there (a failed page) is raised
    here, in order, after the items before it.
    """
    pages: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def fetch() -> None:
        try:
            for batch in batches:
                while not stop.is_set():
                    try:
                        pages.put(("page", batch), timeout=0.5)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pages.put(("end", None))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            pages.put(("error", exc))

    worker = threading.Thread(target=fetch, name="prefetch", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = pages.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join(timeout=30)
