"""A character-at-a-time lexer that knows whether a character is code.

It tracks just enough of a language to tell code from string literals and
comments, so the stopper's block stack ignores ``"(:"`` and ``# }``. It only
ever looks back, never ahead, so feeding the same text in any chunking gives the
same answers.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass
from enum import Enum

from llama_coder.core.languages import Language


class Mode(Enum):
    CODE = "code"
    STRING = "string"
    LINE_COMMENT = "line_comment"
    BLOCK_COMMENT = "block_comment"


@dataclass(frozen=True)
class Syntax:
    """The lexical facts the lexer needs; built from a Language or left plain."""

    line_comment: str | None = None
    block_comment: tuple[str, str] | None = None
    quotes: str = ""
    triple_quotes: bool = False
    escape: str | None = None

    @classmethod
    def of(cls, language: Language | None) -> Syntax:
        if language is None:
            return cls()
        return cls(
            line_comment=language.line_comment,
            block_comment=language.block_comment,
            quotes=language.quotes,
            triple_quotes=language.triple_quotes,
            escape=language.escape,
        )


_TAIL = 8  # characters of history kept: longer than any comment or quote token


class Lexer:
    """Feed characters with :meth:`feed`; it returns True when the character is code."""

    def __init__(self, syntax: Syntax) -> None:
        self.syntax = syntax
        self.mode = Mode.CODE
        self._delim = ""  # closing token of the current string or block comment
        self._tail = ""  # recent characters, for multi-character tokens
        self._escaped = False
        self._string_len = 0  # characters inside the current string so far
        self._empty_string_quote = ""  # a quote that just closed an empty string
        # Set when the character just fed completed a comment opener: the opener's
        # earlier characters, which were reported as code (the "(" of OCaml's "(*").
        self.retract = ""

    def in_long_text(self) -> int | None:
        """Inside a block comment or a triple-quoted string: how many characters ago
        its opener ended (what was read since). None anywhere else."""
        if self.mode is Mode.BLOCK_COMMENT or (self.mode is Mode.STRING
                                                and len(self._delim) == 3):
            return self._string_len
        return None

    def copy(self) -> Lexer:
        """An independent lexer in the same state (for looking ahead without moving)."""
        return copy.copy(self)

    def feed_text(self, text: str) -> None:
        """Feed ``text``; the same end state as feeding it character by character.

        Runs of characters that can neither start nor end anything in the current
        state are skipped with one regex match; the rest go through :meth:`feed`.
        """
        pos, end = 0, len(text)
        while pos < end:
            boring = self._boring()
            if boring is not None:
                match = boring.match(text, pos)
                if match is not None:
                    self._skip(match.group())
                    pos = match.end()
                    continue
            self.feed(text[pos])
            pos += 1

    def _boring(self) -> re.Pattern[str] | None:
        syn, mode = self.syntax, self.mode
        if mode is Mode.CODE:
            block = syn.block_comment[0] if syn.block_comment else ""
            return _run_without(syn.quotes + (syn.line_comment or "") + block)
        if mode is Mode.STRING:
            if self._escaped:
                return None
            newline = "\n" if len(self._delim) == 1 else ""
            return _run_without(self._delim[0] + (syn.escape or "") + newline)
        if mode is Mode.LINE_COMMENT:
            if syn.block_comment and syn.line_comment and self._string_len <= len(
                syn.block_comment[0]
            ):
                return None  # still where a block opener could complete (Lua --[[)
            return _run_without("\n")
        return _run_without(self._delim)

    def _skip(self, run: str) -> None:
        """What feeding ``run`` (a run of boring characters) one by one would do."""
        self._tail = (self._tail + run[-_TAIL:])[-_TAIL:]
        self.retract = ""
        if self.mode is Mode.CODE:
            self._empty_string_quote = ""
        else:
            self._string_len += len(run)

    def feed(self, ch: str) -> bool:
        """Advance over ``ch``; True when ``ch`` is part of code (not string or comment)."""
        self._tail = (self._tail + ch)[-_TAIL:]
        self.retract = ""
        mode = self.mode
        if mode is Mode.CODE:
            return self._feed_code(ch)
        if mode is Mode.LINE_COMMENT:
            self._string_len += 1
            if ch == "\n":
                self.mode = Mode.CODE
            elif self._line_comment_becomes_block():
                self._open_block_comment()
            return False
        if mode is Mode.BLOCK_COMMENT:
            self._string_len += 1
            if self._string_len >= len(self._delim) and self._tail.endswith(self._delim):
                self.mode = Mode.CODE
            return False
        return self._feed_string(ch)

    def _feed_code(self, ch: str) -> bool:
        syn = self.syntax
        empty_quote, self._empty_string_quote = self._empty_string_quote, ""
        if syn.block_comment and self._tail.endswith(syn.block_comment[0]):
            self._open_block_comment()
            self.retract = syn.block_comment[0][:-1]
            return False
        if syn.line_comment and self._tail.endswith(syn.line_comment):
            self.mode = Mode.LINE_COMMENT
            self._string_len = 0
            self.retract = syn.line_comment[:-1]
            return False
        if ch in syn.quotes:
            if syn.triple_quotes and ch == empty_quote:
                # Third quote after an empty string: a triple-quoted string opens.
                self._open_string(ch * 3)
            else:
                self._open_string(ch)
            return False
        return True

    def _line_comment_becomes_block(self) -> bool:
        """Lua ``--[[``, Julia ``#=``: a block opener that starts like a line comment."""
        syn = self.syntax
        if not (syn.block_comment and syn.line_comment):
            return False
        opener = syn.block_comment[0]
        extra = len(opener) - len(syn.line_comment)
        return (
            opener.startswith(syn.line_comment)
            and self._string_len == extra
            and self._tail.endswith(opener)
        )

    def _open_block_comment(self) -> None:
        assert self.syntax.block_comment is not None
        self.mode = Mode.BLOCK_COMMENT
        self._delim = self.syntax.block_comment[1]
        self._string_len = 0

    def _open_string(self, delim: str) -> None:
        self.mode = Mode.STRING
        self._delim = delim
        self._string_len = 0
        self._escaped = False

    def _feed_string(self, ch: str) -> bool:
        if self._escaped:
            self._escaped = False
            self._string_len += 1
            return False
        if self.syntax.escape and ch == self.syntax.escape:
            self._escaped = True
            self._string_len += 1
            return False
        delim = self._delim
        if len(delim) == 1:
            if ch == delim:
                if self._string_len == 0:
                    self._empty_string_quote = ch
                self.mode = Mode.CODE
            elif ch == "\n" and delim != "`":
                # Ordinary strings end at the line end: recover from unbalanced quotes.
                self.mode = Mode.CODE
            else:
                self._string_len += 1
            return False
        self._string_len += 1
        if self._string_len >= len(delim) and self._tail.endswith(delim):
            self.mode = Mode.CODE
        return False


@functools.lru_cache(maxsize=256)
def _run_without(chars: str) -> re.Pattern[str]:
    """A pattern for a non-empty run of characters not in ``chars``."""
    if not chars:
        return re.compile(r".+", re.DOTALL)
    return re.compile("[^" + "".join(re.escape(c) for c in sorted(set(chars))) + "]+")


def lexer_after(syntax: Syntax, text: str) -> Lexer:
    """A lexer that has already read ``text`` (the code before the cursor)."""
    lexer = Lexer(syntax)
    lexer.feed_text(text)
    return lexer


class LexerMemo:
    """The lexer state after the last text asked for, reused while that text stays the
    same (every keystroke on one line shares the lines before it)."""

    def __init__(self) -> None:
        self._key: tuple[Syntax, str] | None = None
        self._lexer: Lexer | None = None

    def after(self, syntax: Syntax, text: str) -> Lexer:
        if self._lexer is None or self._key != (syntax, text):
            self._key = (syntax, text)
            self._lexer = lexer_after(syntax, text)
        return self._lexer.copy()
