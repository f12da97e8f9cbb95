"""Cleans a finished suggestion before it is shown.

In this order:

* trailing spaces and blank lines go;
* indentation is written the way the buffer writes it: tabs or spaces as the text
  around the cursor shows (the buffer's ``expandtab`` when it shows nothing), and a
  model's tab in a buffer indented with spaces is one level of that buffer;
* a suggestion that starts a line ends before a line indented less than that one
  (it would leave the block it starts in: the next function, the parent block);
* a tail that repeats the start of the text after the cursor is trimmed: whole
  lines (indentation and blank lines aside), a repeated line the model stopped in,
  the rest of the cursor line followed by a line break, a closer or quote the line
  already has. When nothing new is left there is no suggestion.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from llama_coder.core.lexer import Lexer, Mode, Syntax
from llama_coder.core.place import BLOCK_CLOSE_WORDS
from llama_coder.core.stopper import BracketStack

_WORD = re.compile(r"\w")
# A line made of these alone is a comment with nothing in it ("#", "---", "//", " *").
_COMMENT_MARKS = frozenset("#-/*;!%")


@dataclass(frozen=True, order=True)
class Health:
    """How well a one-line suggestion fits its line; smaller is better. In order: the
    line ends inside a string; the suggestion closes brackets or a string it did not
    open, or leaves its own open; the line has closers too many (one may close a
    bracket of an earlier line); the line leaves brackets open."""

    ends_in_string: bool
    unbalanced: int
    excess_closers: int
    unclosed: int


def fit_health(syntax: Syntax, line_before: str, text: str, line_after: str) -> Health:
    brackets = BracketStack(Lexer(syntax))
    lexer = brackets.lexer
    assert lexer is not None
    excess = sum(1 for ch in line_before if brackets.feed(ch) is not None)
    depth = lowest = len(brackets.stack)
    in_string = lexer.mode is Mode.STRING
    unmatched = 0
    for ch in text:
        unmatched += brackets.feed(ch) is not None
        lowest = min(lowest, len(brackets.stack))
    unbalanced = (unmatched + depth - lowest + len(brackets.stack) - lowest
                  + ((lexer.mode is Mode.STRING) != in_string))
    excess += unmatched + sum(1 for ch in line_after if brackets.feed(ch) is not None)
    return Health(lexer.mode is Mode.STRING, unbalanced, excess, len(brackets.stack))


def drop_repeated_tail(syntax: Syntax, line_before: str, text: str, line_after: str) -> str:
    """Drop the end of a one-line suggestion that repeats the text after the cursor.

    ``foo)`` before ``)`` becomes ``foo``. The cut is taken when it fits the line
    better (see :class:`Health`), or as well when what it drops is the whole rest of
    the line or only closers and quotes; so ``f(a)`` inside ``g(|)`` stays whole.
    """
    rest = line_after.rstrip()
    if "\n" in text or not rest or not text:
        return text
    best, best_health = text, fit_health(syntax, line_before, text, line_after)
    for k in range(min(len(rest), len(text)), 0, -1):
        if not text.endswith(rest[:k]):
            continue
        cut = text[:-k]
        health = fit_health(syntax, line_before, cut, line_after)
        if health < best_health or (
                best is text and health == best_health and cut
                and (k == len(rest) or not _WORD.search(rest[:k]))):
            best, best_health = cut, health
    return best


# --- indentation ---------------------------------------------------------------------------


def leading(line: str) -> str:
    """The line's indentation."""
    return line[: len(line) - len(line.lstrip(" \t"))]


@dataclass(frozen=True)
class Indentation:
    """What the lines around the cursor show of how the buffer indents (None: they
    do not show it)."""

    tabs: bool | None  # with tabs rather than spaces
    unit: int | None  # columns of one level, when it indents with spaces

    @property
    def tab_width(self) -> int:
        """What a tab at the start of a model's line counts for against the cursor
        line's indentation in characters (the stopper's dedent rule): one character
        in a buffer indented with tabs, else one level."""
        return 1 if self.tabs else self.unit or 8


@dataclass(frozen=True)
class IndentStyle:
    """How the buffer indents."""

    tabs: bool  # with tabs (else spaces)
    unit: int  # columns of one level when it indents with spaces: what a model's tab means
    tabstop: int

    @classmethod
    def of(cls, seen: Indentation, expandtab: bool, tabstop: int) -> IndentStyle:
        """What the text shows, else the buffer's options."""
        tabstop = tabstop if tabstop > 0 else 8
        tabs = (not expandtab) if seen.tabs is None else seen.tabs
        return cls(tabs, seen.unit or tabstop, tabstop)

    def width(self, indent: str) -> int:
        """Columns of leading whitespace: a tab goes to the next tab stop in a buffer
        indented with tabs, and is one level in a buffer indented with spaces."""
        width = 0
        for ch in indent:
            if ch != "\t":
                width += 1
            elif self.tabs:
                width = (width // self.tabstop + 1) * self.tabstop
            else:
                width += self.unit
        return width

    def write(self, width: int) -> str:
        if self.tabs:
            return "\t" * (width // self.tabstop) + " " * (width % self.tabstop)
        return " " * width


# Characters before and after the cursor that show the buffer's indentation: enough
# lines to tell, few enough to cost little (about 0.1 ms) per request.
STYLE_BEFORE = 1200
STYLE_AFTER = 600
_LINES = re.compile(r"^([ \t]*)(\S.*?)[ \t]*$", re.MULTILINE)
# A Python compound statement's header (a line ending with ":" that is not prose).
_COMPOUND = re.compile(
    r"(?:async\s+)?(?:def|class|if|elif|else|for|while|try|except|finally|with|match|case)\b")
_BLOCK_WORDS = ("then", "do", "else", "repeat", "begin")
_OPENERS = re.compile(r"[(\[{]")
_CLOSERS = re.compile(r"[)\]}]")


def _opens_block(body: str) -> bool:
    """Whether the next line is indented one level after this one: it ends with an
    opening bracket, a word that opens a block (Lua, shell, Ruby) or a function's
    parameters, or it is a Python compound statement's header."""
    last = body[-1]
    if last in "([{":
        return True
    if last == ":":
        return _COMPOUND.match(body) is not None
    if last == ")":
        return "function" in body
    return body.endswith(_BLOCK_WORDS)


def _balance(body: str) -> int:
    """Brackets the line opens minus those it closes (strings and comments included)."""
    return len(_OPENERS.findall(body)) - len(_CLOSERS.findall(body))


LEVELS = (2, 4, 8)  # the indentation levels told apart
_DEEP_SPACES = re.compile(r"^ {8}", re.MULTILINE)


def read_indentation(prefix: str, suffix: str) -> Indentation:
    """How the code around the cursor indents. Tabs or spaces: what most indented lines
    (the cursor line too) start with. The level: the most common step by which the
    line after one that opens a block is indented further (lines aligned under a
    bracket opened inside a line say nothing about it), else the least indentation."""
    context = prefix[-STYLE_BEFORE:]
    if len(prefix) > STYLE_BEFORE:
        context = context[context.find("\n") + 1 :]  # from a line's start
    suffix = suffix[:STYLE_AFTER]
    with_tabs = with_spaces = 0
    steps: Counter[int] = Counter()
    widths: set[int] = set()  # of lines indented with spaces
    opener: int | None = None  # the width of the line before, when it opens a block
    depth = 0  # brackets open, counted roughly
    hanging = True  # the innermost open bracket ended its line: lines in it are indented
    for indent, body in _LINES.findall(context + suffix):
        if indent:
            with_tabs += indent[0] == "\t"
            with_spaces += indent[0] == " "
        width = len(indent) if (hanging or not depth) and "\t" not in indent else None
        if width is not None and opener is not None and width - opener in LEVELS:
            steps[width - opener] += 1
        if width:
            widths.add(width)
        opens = _opens_block(body)
        opener = width if opens else None
        change = _balance(body)
        if change > 0:
            hanging = opens
        depth = max(0, depth + change)
    cursor_line = context[context.rfind("\n") + 1 :]
    if cursor_line and not cursor_line.strip():  # the cursor stands after indentation
        with_tabs += cursor_line[0] == "\t"
        with_spaces += cursor_line[0] == " "
        if "\t" not in cursor_line:
            widths.add(len(cursor_line))
    tabs = None if with_tabs == with_spaces else with_tabs > with_spaces
    if with_tabs > 1 and not _DEEP_SPACES.search(context + suffix):
        tabs = True  # tabs for 8 columns and spaces for the rest (Vim's noexpandtab)
    if steps:
        return Indentation(tabs, steps.most_common(1)[0][0])
    # No block opened here: the least indentation is most likely one level.
    least = min(widths, default=None)
    return Indentation(tabs, least if least in LEVELS else None)


def fit_indentation(text: str, style: IndentStyle, first_line: bool = False) -> str:
    """Write the indentation of the suggestion's lines in ``style``; the first line's
    only when it starts a line (``first_line``)."""
    fitted = []
    for i, line in enumerate(text.split("\n")):
        indent = leading(line)
        if (i or first_line) and indent and len(indent) < len(line):
            line = style.write(style.width(indent)) + line[len(indent) :]
        fitted.append(line)
    return "\n".join(fitted)


def stay_in_block(text: str, style: IndentStyle, line_before: str) -> str:
    """A suggestion that starts a line ends before a line indented less than it."""
    lines = text.split("\n")
    if not lines[0].strip():
        return text
    floor = style.width(line_before + leading(lines[0]))
    for i in range(1, len(lines)):
        if lines[i].strip() and style.width(leading(lines[i])) < floor:
            return "\n".join(lines[:i]).rstrip()
    return text


# --- repeats of the text after the cursor --------------------------------------------------

# A line that only closes blocks: ``}``, ``});``, ``end``, ``end)``, ``fi``. Such lines
# are alike in every block, so one repeats a following line only at the same indentation.
_CLOSER_LINE = re.compile(
    r"[)\]}]*(?:(?:" + "|".join(BLOCK_CLOSE_WORDS) + r")\b)?[)\]};,.]*")


@dataclass(frozen=True)
class _Line:
    indent: int | None  # None: not at a line's start (the rest of the cursor line)
    body: str  # without indentation and trailing spaces


def _lines(text: str, style: IndentStyle, first_indent: int | None) -> list[_Line]:
    """The non-blank lines of ``text``; the first one's indentation is ``first_indent``
    plus its own (None: it does not start a line)."""
    out = []
    for i, line in enumerate(text.split("\n")):
        body = line.strip()
        if not body:
            continue
        if i == 0:
            indent = None if first_indent is None else first_indent + style.width(leading(line))
        else:
            indent = style.width(leading(line))
        out.append(_Line(indent, body))
    return out


def _empty_comment(body: str) -> bool:
    return set(body) <= _COMMENT_MARKS


def _repeats(tail: list[_Line], following: list[_Line]) -> bool:
    """Whether ``tail`` repeats the first lines of ``following``: each the same line
    whatever its indentation, the last one possibly cut short (unless it is the only
    one and an empty comment: ``---`` before ``---@return`` is a line of its own,
    ``--`` before ``---`` is not). A
    line that only closes blocks, and a tail of one line, must also have the same
    indentation."""
    if not tail or len(tail) > len(following):
        return False
    for i, (ours, theirs) in enumerate(zip(tail, following, strict=False)):
        if ours.body != theirs.body and not (
                i == len(tail) - 1 and theirs.body.startswith(ours.body)
                and (i or not _empty_comment(ours.body) or _empty_comment(theirs.body))):
            return False
        strict = len(tail) == 1 or _CLOSER_LINE.fullmatch(theirs.body) is not None
        if strict and None not in (ours.indent, theirs.indent) and ours.indent != theirs.indent:
            return False
    return True


def _trim_once(text: str, style: IndentStyle, line_before: str, line_after: str,
               following: list[_Line]) -> str:
    """``text`` without its longest tail that repeats ``following``; the tail may
    start at a line's start, or inside a line with the rest of the cursor line and a
    line break. The cut keeps the line break and indentation before a repeat of the
    rest of the cursor line, which accepting puts there again."""
    rest = line_after.strip()
    starts_line = not line_before.strip()
    lines = text.split("\n")
    start = 0
    for j, line in enumerate(lines):
        later = "\n".join(lines[j + 1 :])
        # The tail starts at this line's start.
        if j or starts_line:
            first_indent = style.width(line_before) if j == 0 else 0
            if _repeats(_lines("\n".join(lines[j:]), style, first_indent), following):
                if rest:  # the rest of the cursor line: it comes back after the suggestion
                    return text[: start + len(leading(line))]
                return text[:start].rstrip()
        # The tail starts inside this line with the rest of the cursor line.
        body = line.rstrip()
        if rest and j + 1 < len(lines) and body.endswith(rest):
            head = body[: len(body) - len(rest)]
            if head.strip() or (j == 0 and not starts_line):
                tail = [_Line(None, rest), *_lines(later, style, 0)]
                if len(tail) > 1 and _repeats(tail, following):
                    return text[: start + len(head)].rstrip()
        # The cursor line as completed is the line that follows it: keep the completion.
        if j == 0 and not starts_line and not rest and following and len(lines) > 1:
            mine = _Line(style.width(leading(line_before)), (line_before + line).strip())
            if mine == following[0] and _repeats(_lines(later, style, 0), following[1:]):
                return line.rstrip()
        start += len(line) + 1
    return text


def possible_repeat_start(text: str, suffix: str) -> int:
    """Where the longest tail of ``text``'s lines begins that may yet turn out to
    repeat the start of ``suffix`` once more text comes (the same lines whatever
    their indentation, the last one possibly the start of its line): an offset into
    ``text``, or its length. A superset of what :func:`trim_repeated_lines` trims."""
    following = [line.strip() for line in suffix.split("\n") if line.strip()]
    lines = text.split("\n")
    start = 0
    for j, line in enumerate(lines):
        bodies = [b for b in (x.strip() for x in lines[j:]) if b]
        n = len(bodies)
        if 0 < n <= len(following) and bodies[:-1] == following[: n - 1] \
                and following[n - 1].startswith(bodies[-1]):
            return start
        start += len(line) + 1
    return len(text)


def trim_repeated_lines(text: str, style: IndentStyle, line_before: str, line_after: str,
                        suffix: str) -> str:
    """Trim the tail of ``text`` that repeats the start of ``suffix`` (the text after
    the cursor), again until none is left: a doubled repeat goes too."""
    following = _lines(suffix, style, None)  # the rest of the cursor line has no indent
    while True:
        trimmed = _trim_once(text, style, line_before, line_after, following)
        if trimmed == text:
            return text
        text = trimmed


def postprocess(
    text: str,
    syntax: Syntax,
    line_before: str,
    line_after: str,
    suffix: str,
    expandtab: bool = True,
    tabstop: int = 8,
    prefix: str = "",
    seen: Indentation | None = None,
) -> str | None:
    """The suggestion to show, or None when nothing useful is left. ``prefix`` and
    ``suffix`` are the text before and after the cursor (the prompt's); ``seen`` is
    what they show of the buffer's indentation, when already read from them."""
    # Trailing spaces and blank lines would only add whitespace on accept.
    text = "\n".join(line.rstrip() for line in text.split("\n")).rstrip()
    if not text.strip():
        return None
    seen = read_indentation(prefix, suffix) if seen is None else seen
    style = IndentStyle.of(seen, expandtab, tabstop)
    starts_line = not line_before.strip()
    text = fit_indentation(text, style, first_line=starts_line)
    if starts_line:
        text = stay_in_block(text, style, line_before)
    text = trim_repeated_lines(text, style, line_before, line_after, suffix)
    text = drop_repeated_tail(syntax, line_before, text, line_after)
    return text if text.strip() else None
