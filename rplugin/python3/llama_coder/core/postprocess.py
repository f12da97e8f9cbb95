"""Cleans a finished suggestion before it is shown: repeats dropped, indentation fitted."""

from __future__ import annotations

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


def repeats_following_lines(text: str, suffix: str) -> bool:
    """True when every line of the suggestion just repeats the lines that follow."""
    ours = [line.strip() for line in text.split("\n") if line.strip()]
    theirs = [line.strip() for line in suffix.split("\n") if line.strip()]
    return bool(ours) and ours == theirs[: len(ours)]


def fit_indentation(text: str, expandtab: bool, tabstop: int) -> str:
    """Write the indentation of the suggestion's later lines the way the buffer does."""
    if "\n" not in text or tabstop <= 0:
        return text
    first, *rest = text.split("\n")
    fitted = [first]
    for line in rest:
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)]
        width = 0
        for ch in indent:
            width = (width // tabstop + 1) * tabstop if ch == "\t" else width + 1
        if expandtab:
            indent = " " * width
        else:
            indent = "\t" * (width // tabstop) + " " * (width % tabstop)
        fitted.append(indent + body)
    return "\n".join(fitted)


def postprocess(
    text: str,
    syntax: Syntax,
    line_before: str,
    line_after: str,
    suffix: str,
    expandtab: bool = True,
    tabstop: int = 8,
) -> str | None:
    """The suggestion to show, or None when nothing useful is left."""
    if not text.strip():
        return None
    # Trailing blank lines would only add empty lines on accept.
    text = text.rstrip("\n")
    text = drop_repeated_tail(syntax, line_before, text, line_after)
    if not text.strip():
        return None
    if repeats_following_lines(text, suffix):
        return None
    return fit_indentation(text, expandtab, tabstop)
