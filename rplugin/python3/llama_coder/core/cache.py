"""A bounded LRU of suggestions, keyed on where they came from and on hashes of the prompt.

Besides exact hits it answers the typing-through question: was a suggestion cached
for a shorter prefix, such that the new prefix only adds the characters the
suggestion starts with? Then the rest of that suggestion is still good.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

# Typing through continues a suggestion that was just shown, so only the newest entries
# are candidates: the scan stays O(1) however large the cache is.
CONTINUATION_CANDIDATES = 32


def digest(text: str) -> bytes:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass(frozen=True)
class Source:
    """Which server and model a suggestion came from."""

    backend: str
    endpoint: str
    model: str
    format: str


@dataclass(frozen=True)
class _Entry:
    source: Source
    prefix_len: int
    prefix_hash: bytes
    suffix_hash: bytes
    suggestion: str


class SuggestionCache:
    """LRU of at most ``size`` suggestions; ``size`` 0 stores nothing.

    A plain dict keeps insertion order: re-inserting moves a key to the newest end,
    and iterating its values backwards costs no key lookups.
    """

    def __init__(self, size: int) -> None:
        self.size = max(0, size)
        self._entries: dict[tuple[Source, bytes, bytes], _Entry] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def resize(self, size: int) -> None:
        self.size = max(0, size)
        self._trim()

    def clear(self) -> None:
        self._entries.clear()

    def put(self, source: Source, prefix: str, suffix: str, suggestion: str) -> None:
        if self.size == 0:
            return
        key = (source, digest(prefix), digest(suffix))
        self._entries.pop(key, None)
        self._entries[key] = _Entry(source, len(prefix), key[1], key[2], suggestion)
        self._trim()

    def get(self, source: Source, prefix: str, suffix: str) -> str | None:
        """The suggestion cached for exactly this prompt."""
        key = (source, digest(prefix), digest(suffix))
        entry = self._entries.pop(key, None)
        if entry is None:
            return None
        self._entries[key] = entry
        return entry.suggestion

    def get_continuation(self, source: Source, prefix: str, suffix: str) -> str | None:
        """What is left of a suggestion the user has been typing through, or None.

        An exact hit counts too (nothing typed yet). An entry whose suggestion was
        typed through to its end is not a hit: there is nothing left to show.
        """
        exact = self.get(source, prefix, suffix)
        if exact is not None:
            return exact
        suffix_hash = digest(suffix)
        newest = itertools.islice(reversed(self._entries.values()), CONTINUATION_CANDIDATES)
        for entry in newest:
            if entry.suffix_hash != suffix_hash or entry.source != source:
                continue
            typed = len(prefix) - entry.prefix_len
            if not 0 < typed < len(entry.suggestion):
                continue
            if not entry.suggestion.startswith(prefix[entry.prefix_len :]):
                continue
            if digest(prefix[: entry.prefix_len]) != entry.prefix_hash:
                continue
            key = (entry.source, entry.prefix_hash, entry.suffix_hash)
            self._entries[key] = self._entries.pop(key)
            return entry.suggestion[typed:]
        return None

    def _trim(self) -> None:
        while len(self._entries) > self.size:
            del self._entries[next(iter(self._entries))]
