"""Context from other buffers: a bounded ring of recent text chunks.

The editor sends a chunk when a buffer is entered or written (the lines around the
cursor) and when text is yanked. A chunk much like one already kept replaces it
(nearly the same lines seen again); beyond the ring's size the oldest goes. A
request takes the newest chunks that fit its character budget, from files other
than its own, and sends them oldest first: the order stays put from one request to
the next, so the server's KV cache keeps serving them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llama_coder.core.languages import Language

MIN_LINES = 3  # a chunk of fewer non-blank lines says too little to be worth tokens
SIMILAR = 0.9  # line-set overlap above which a new chunk replaces an old one


@dataclass(frozen=True)
class Chunk:
    path: str
    text: str
    lines: frozenset[str]  # its non-blank lines, stripped: for the similarity test


def similarity(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


class ContextRing:
    def __init__(self, size: int, chunk_lines: int) -> None:
        self.size = max(0, size)
        self.chunk_lines = max(1, chunk_lines)
        self._chunks: list[Chunk] = []

    def __len__(self) -> int:
        return len(self._chunks)

    def resize(self, size: int, chunk_lines: int) -> None:
        self.size = max(0, size)
        self.chunk_lines = max(1, chunk_lines)
        del self._chunks[: max(0, len(self._chunks) - self.size)]

    def chunks(self) -> list[Chunk]:
        return list(self._chunks)

    def add(self, path: str, lines: Sequence[str]) -> bool:
        """Keep ``lines`` (cut to ``chunk_lines``) from ``path``; True if the ring changed."""
        if self.size == 0:
            return False
        kept = [line.rstrip() for line in lines[: self.chunk_lines]]
        while kept and not kept[-1]:
            kept.pop()
        key = frozenset(line.strip() for line in kept if line.strip())
        if len(key) < MIN_LINES:
            return False
        if any(c.path == path and c.lines == key for c in self._chunks):
            return False  # the very same lines again
        self._chunks = [c for c in self._chunks if similarity(c.lines, key) < SIMILAR]
        self._chunks.append(Chunk(path, "\n".join(kept) + "\n", key))
        del self._chunks[: max(0, len(self._chunks) - self.size)]
        return True

    def select(self, budget: int, exclude_path: str = "") -> list[Chunk]:
        """The newest chunks from other files within ``budget`` characters, oldest first."""
        chosen: list[Chunk] = []
        used = 0
        for chunk in reversed(self._chunks):
            if chunk.path == exclude_path and exclude_path:
                continue
            cost = len(chunk.path) + len(chunk.text) + 1
            if used + cost > budget:
                break
            chosen.append(chunk)
            used += cost
        chosen.reverse()
        return chosen


def as_comments(chunks: Sequence[tuple[str, str]], language: Language | None) -> str:
    """Chunks as comments in the current file's language, for prompts that have no
    place of their own for other files; empty when the language has no comments."""
    if language is None or not chunks or language.comment("x") is None:
        return ""
    out: list[str] = []
    for path, text in chunks:
        out.append(f"{language.comment(f'From {path}:')}\n")
        out.extend(f"{language.comment(line) or ''}\n" for line in text.splitlines())
    return "".join(out)
