"""Parsing many documents on every core: libyaml's parse is most of `validate` on a large repository."""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from orchrecon.loader import Document, LoadError, load_text

# Below this many files, starting worker processes costs more than it saves.
PARALLEL_FROM = 1000

Loaded = Document | LoadError


def load_many(items: Sequence[tuple[str, bytes]], *, workers: int | None = None) -> list[Loaded]:
    """`load_text` for each (file, raw) item, in order; a file that cannot be loaded gives its LoadError.

    With enough files, several forked processes parse a share each and send the data back; the node
    trees stay behind, and a document composes its own again only if a position is asked for (errors).
    Forking is skipped where it is unsafe: another thread running, or no fork on the platform.
    """
    count = workers if workers is not None else _default_workers(len(items))
    if count <= 1:
        return [_load(file, raw) for file, raw in items]
    size = -(-len(items) // count)
    chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
    with ProcessPoolExecutor(max_workers=len(chunks), mp_context=multiprocessing.get_context("fork")) as pool:
        parts = list(pool.map(_load_chunk, chunks))
    return [
        _revive(file, part)
        for chunk, results in zip(chunks, parts, strict=True)
        for (file, _), part in zip(chunk, results, strict=True)
    ]


def _default_workers(files: int) -> int:
    if files < PARALLEL_FROM or not hasattr(os, "fork") or threading.active_count() > 1:
        return 1
    return min(os.cpu_count() or 1, 8)


def _load(file: str, raw: bytes) -> Loaded:
    try:
        return load_text(file, raw)
    except LoadError as exc:
        return exc


# What crosses the process boundary: plain tuples (exceptions with extra fields do not pickle back).
_Part = tuple[str, dict[str, Any], str] | tuple[str, str, int, int, tuple[str | int, ...]]


def _load_chunk(chunk: list[tuple[str, bytes]]) -> list[_Part]:
    parts: list[_Part] = []
    for file, raw in chunk:
        loaded = _load(file, raw)
        if isinstance(loaded, LoadError):
            parts.append(("error", loaded.message, loaded.line, loaded.col, loaded.path))
        else:
            parts.append(("ok", loaded.data, loaded.text))
    return parts


def _revive(file: str, part: _Part) -> Loaded:
    if part[0] == "error":
        _, message, line, col, path = part  # type: ignore[misc]
        return LoadError(message, line, col, path=path)
    _, data, text = part  # type: ignore[misc]
    return Document(file=file, data=data, text=text)
