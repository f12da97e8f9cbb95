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
from llama_coder.core.stopper import BracketStack


@dataclass(frozen=True, order=True)
class Health:
    """How badly a line's brackets and quotes close; smaller is better."""

    excess_closers: int
    ends_in_string: bool
    unclosed: int


def line_health(syntax: Syntax, line: str) -> Health:
    brackets = BracketStack(Lexer(syntax))
    excess = sum(1 for ch in line if brackets.feed(ch) is not None)
    assert brackets.lexer is not None
    return Health(excess, brackets.lexer.mode is Mode.STRING, len(brackets.stack))


def drop_repeated_tail(syntax: Syntax, line_before: str, text: str, line_after: str) -> str:
    """Drop the end of a one-line suggestion that repeats the text after the cursor.

    ``foo)`` before ``)`` becomes ``foo``. The cut is taken when the suggestion ends
    with the whole rest of the line, or when it leaves the line's brackets and quotes
    in better shape than keeping it would; so ``f(a)`` inside ``g(|)`` stays whole.
    """
    rest = line_after.rstrip()
    if "\n" in text or not rest or not text:
        return text
    whole = line_health(syntax, line_before + text + line_after)
    for k in range(min(len(rest), len(text)), 0, -1):
        if not text.endswith(rest[:k]):
            continue
        cut = text[:-k]
        health = line_health(syntax, line_before + cut + line_after)
        if health < whole or (k == len(rest) and cut and health == whole):
            return cut
    return text


# --- indentation ---------------------------------------------------------------------------


def leading(line: str) -> str:
    """The line's indentation."""
    return line[: len(line) - len(line.lstrip(" \t"))]


@dataclass(frozen=True)
class IndentStyle:
    """How the buffer indents."""

    tabs: bool  # with tabs (else spaces)
    unit: int  # columns of one level when it indents with spaces: what a model's tab means
    tabstop: int

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


def indent_style(context: str, expandtab: bool, tabstop: int) -> IndentStyle:
    """The style the lines of ``context`` use; ``expandtab`` decides when they show
    none. The level is the most common step by which a line is indented further
    than the one before it (``tabstop`` when there is no such step)."""
    tabstop = tabstop if tabstop > 0 else 8
    with_tabs = with_spaces = 0
    steps: Counter[int] = Counter()
    previous: int | None = None
    for line in context.split("\n"):
        indent = leading(line)
        if len(indent) == len(line):
            continue  # blank
        if indent.startswith("\t"):
            with_tabs += 1
        elif indent:
            with_spaces += 1
        width = None if "\t" in indent else len(indent)
        if width is not None and previous is not None and width > previous:
            steps[width - previous] += 1
        previous = width
    tabs = with_tabs > with_spaces if with_tabs != with_spaces else not expandtab
    unit = steps.most_common(1)[0][0] if steps else tabstop
    return IndentStyle(tabs, unit, tabstop)


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
    r"[)\]}]*(?:(?:end|fi|done|esac|endif|endfor|endwhile|endfunction|endfunc|wend)\b)?"
    r"[)\]};,.]*")


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


def _repeats(tail: list[_Line], following: list[_Line]) -> bool:
    """Whether ``tail`` repeats the first lines of ``following``: each the same line
    whatever its indentation, the last one possibly cut short. A line that only closes
    blocks, and a tail of one line, must also have the same indentation."""
    if not tail or len(tail) > len(following):
        return False
    for i, (ours, theirs) in enumerate(zip(tail, following, strict=False)):
        last = i == len(tail) - 1
        if ours.body != theirs.body and not (last and theirs.body.startswith(ours.body)):
            return False
        strict = len(tail) == 1 or _CLOSER_LINE.fullmatch(theirs.body) is not None
        if strict and None not in (ours.indent, theirs.indent) and ours.indent != theirs.indent:
            return False
    return True


def _closes_own_brackets(syntax: Syntax, kept: str, tail: str) -> bool:
    """Whether ``tail`` closes a bracket that ``kept`` opened: then it is not a repeat
    (the ``}`` of a new block that looks like the ``}`` after the cursor)."""
    brackets = BracketStack(Lexer(syntax))
    for ch in kept:
        brackets.feed(ch)
    depth = lowest = len(brackets.stack)
    for ch in tail:
        brackets.feed(ch)
        lowest = min(lowest, len(brackets.stack))
    return lowest < depth


def _trim_once(text: str, syntax: Syntax, style: IndentStyle, line_before: str,
               line_after: str, following: list[_Line]) -> str:
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
            if _repeats(_lines("\n".join(lines[j:]), style, first_indent), following) \
                    and not _closes_own_brackets(syntax, text[:start], text[start:]):
                if rest:  # the rest of the cursor line: it comes back after the suggestion
                    return text[: start + len(leading(line))]
                return text[:start].rstrip()
        # The tail starts inside this line with the rest of the cursor line.
        body = line.rstrip()
        if rest and j + 1 < len(lines) and body.endswith(rest):
            head = body[: len(body) - len(rest)]
            if head.strip() or (j == 0 and not starts_line):
                tail = [_Line(None, rest), *_lines(later, style, 0)]
                if len(tail) > 1 and _repeats(tail, following) and not _closes_own_brackets(
                        syntax, text[: start + len(head)], text[start + len(head) :]):
                    return text[: start + len(head)].rstrip()
        # The cursor line as completed is the line that follows it: keep the completion.
        if j == 0 and not starts_line and not rest and following and len(lines) > 1:
            mine = _Line(style.width(leading(line_before)), (line_before + line).strip())
            if mine == following[0] and _repeats(_lines(later, style, 0), following[1:]) \
                    and not _closes_own_brackets(syntax, line, text[len(line) :]):
                return line.rstrip()
        start += len(line) + 1
    return text


def trim_repeated_lines(text: str, syntax: Syntax, style: IndentStyle, line_before: str,
                        line_after: str, suffix: str) -> str:
    """Trim the tail of ``text`` that repeats the start of ``suffix`` (the text after
    the cursor), again until none is left: a doubled repeat goes too."""
    following = _lines(suffix, style, None)  # the rest of the cursor line has no indent
    while True:
        trimmed = _trim_once(text, syntax, style, line_before, line_after, following)
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
) -> str | None:
    """The suggestion to show, or None when nothing useful is left. ``prefix`` and
    ``suffix`` are the text before and after the cursor (the prompt's), which show
    how the buffer indents."""
    # Trailing spaces and blank lines would only add whitespace on accept.
    text = "\n".join(line.rstrip() for line in text.split("\n")).rstrip()
    if not text.strip():
        return None
    style = indent_style(prefix + suffix, expandtab, tabstop)
    starts_line = not line_before.strip()
    text = fit_indentation(text, style, first_line=starts_line)
    if starts_line:
        text = stay_in_block(text, style, line_before)
    text = trim_repeated_lines(text, syntax, style, line_before, line_after, suffix)
    text = drop_repeated_tail(syntax, line_before, text, line_after)
    return text if text.strip() else None
