"""What the Lua shim sends, parsed and cleaned before anything is built from it.

pynvim unpacks Lua strings with ``surrogateescape``: a byte that is not UTF-8 (a
latin-1 comment, a file read with ``++bad=keep``, a binary-ish buffer) arrives as a
lone surrogate (U+DC80..U+DCFF), which no JSON encoder or server accepts. Every text
from Lua is cleaned here: each such character becomes U+FFFD, one for one, so the
text keeps its length in characters. The cursor column Lua sends is a byte offset
into the raw line; it is turned into a character column before the line is cleaned.
No pynvim and no I/O here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from llama_coder.core.config import OPTIONS
from llama_coder.log import LOGGER

T = TypeVar("T")

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")

# How many suggestions one request for alternatives may ask for: the schema's bound.
_MAX_ALTERNATIVES = int(OPTIONS["alternatives"].maximum or 1)


class BadMessage(ValueError):
    """A message from Lua that lacks a field or has one of the wrong type."""


def parsed(parse: Callable[[Any], T], raw: Any, what: str) -> T | None:
    """``parse(raw)``, or None, logged, when Lua sent a malformed ``what``."""
    try:
        return parse(raw)
    except BadMessage as exc:
        LOGGER.warning("ignoring a malformed %s: %s", what, exc)
        return None


def clean(text: str) -> str:
    """``text`` with every undecodable byte (a lone surrogate) replaced by U+FFFD."""
    if text.isascii():
        return text
    return _SURROGATE.sub(REPLACEMENT, text)


def char_column(raw_line: str, byte_col: int) -> int:
    """The character index of byte ``byte_col`` of ``raw_line`` as Lua sent it (a
    byte that is not UTF-8 is one character, a column inside a character rounds down)."""
    if raw_line.isascii():
        return max(0, min(byte_col, len(raw_line)))
    seen = 0
    for index, char in enumerate(raw_line):
        seen += 1 if _SURROGATE.match(char) else len(char.encode("utf-8"))
        if seen > byte_col:
            return index
    return len(raw_line)


def _text(raw: Mapping[str, Any], key: str, default: str = "") -> str:
    value = raw.get(key, default)
    if not isinstance(value, str):
        raise BadMessage(f"{key} is not a string")
    return value


def _int(raw: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = raw.get(key, default)
    if isinstance(value, float) and value.is_integer():
        return int(value)  # a Lua number that went out as a float
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadMessage(f"{key} is not an integer")
    return value


def _lines(raw: Mapping[str, Any], key: str = "lines") -> list[str]:
    value = raw.get(key)
    if not isinstance(value, list) or not all(isinstance(line, str) for line in value):
        raise BadMessage(f"{key} is not a list of strings")
    return value


@dataclass(frozen=True)
class CompletionRequest:
    """One ``llama_coder_complete``: a window of lines around the cursor."""

    id: int
    buf: int
    tick: int
    row: int  # 0-based
    col: int  # byte column in the raw line (sent back to Lua as it came)
    first_line: int
    lines: list[str]  # cleaned
    char_col: int = 0  # the cursor's character column in the cleaned line
    path: str = ""  # cleaned: it goes into the prompt
    abspath: str = ""  # raw: it names a file on disk
    filetype: str = ""
    expandtab: bool = True
    tabstop: int = 8

    @classmethod
    def from_lua(cls, raw: Any) -> CompletionRequest:
        if not isinstance(raw, Mapping):
            raise BadMessage("the request is not a table")
        row, col, first = _int(raw, "row"), _int(raw, "col"), _int(raw, "first_line")
        lines = _lines(raw)
        local = row - first
        cursor_line = lines[local] if 0 <= local < len(lines) else ""
        return cls(
            id=_int(raw, "id"), buf=_int(raw, "buf"), tick=_int(raw, "tick"), row=row,
            col=col, first_line=first, lines=[clean(line) for line in lines],
            char_col=char_column(cursor_line, col), path=clean(_text(raw, "path")),
            abspath=_text(raw, "abspath"), filetype=clean(_text(raw, "filetype")),
            expandtab=bool(raw.get("expandtab", True)), tabstop=_int(raw, "tabstop", 8),
        )

    @property
    def cursor_line(self) -> str:
        local = self.row - self.first_line
        return self.lines[local] if 0 <= local < len(self.lines) else ""


@dataclass(frozen=True)
class AlternativesRequest:
    """``llama_coder_alternatives``: more suggestions for completion request ``id``."""

    id: int
    count: int  # within the schema's bounds for ``alternatives``
    known: frozenset[str]  # texts already shown

    @classmethod
    def from_lua(cls, raw: Any) -> AlternativesRequest:
        if not isinstance(raw, Mapping):
            raise BadMessage("the request is not a table")
        known = raw.get("known") or []
        if not isinstance(known, list) or not all(isinstance(t, str) for t in known):
            raise BadMessage("known is not a list of strings")
        count = max(1, min(_int(raw, "count", 3), _MAX_ALTERNATIVES))
        return cls(_int(raw, "id"), count, frozenset(clean(t) for t in known))


@dataclass(frozen=True)
class ContextChunk:
    """``llama_coder_context``: lines of another buffer for the prompt's extra context."""

    path: str
    lines: list[str]

    @classmethod
    def from_lua(cls, raw: Any) -> ContextChunk:
        if not isinstance(raw, Mapping):
            raise BadMessage("the chunk is not a table")
        return cls(clean(_text(raw, "path")), [clean(line) for line in _lines(raw)])


@dataclass(frozen=True)
class PullAnswer:
    """``llama_coder_pull_answer``: the user's answer to the download question."""

    model: str
    answer: str  # download | not now | never

    @classmethod
    def from_lua(cls, args: list[Any]) -> PullAnswer:
        if len(args) < 2 or not isinstance(args[0], str) or not isinstance(args[1], str):
            raise BadMessage("expected a model and an answer")
        return cls(args[0], args[1])
