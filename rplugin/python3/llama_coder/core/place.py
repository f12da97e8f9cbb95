"""How much a place calls for: one line, or a block.

In the middle of a line, with code after the cursor, a suggestion can only finish
that line: it is one line, and the server is told to stop at the newline. In a doc
comment or a docstring (prose, see :func:`in_doc_text`) it is one line of text too: a
model's next sentences are guesses, and the next pause brings the next line.
Anywhere else (the end of a line, an empty line, or before only closers such as
``)``, ``"``, ``;`` or ``end``) it may run over several lines to the end of the
block, as the stopper allows (``multiline``: 'auto' follows these rules, 'always'
and 'never' do not look at the place).
"""

from __future__ import annotations

import re

from llama_coder.core.lexer import Lexer, Mode, Syntax

# Words that end a block in some language (Lua, Ruby, shell, Vim script, Basic).
BLOCK_CLOSE_WORDS = ("end", "fi", "done", "esac", "endif", "endfor", "endwhile",
                     "endfunction", "endfunc", "wend")
# What may stand after the cursor on its line without making the place mid-line:
# whitespace, closing brackets, separators, quotes (added per language), closer words.
_CLOSER_CHARS = " \t)]};,"
_DEFAULT_QUOTES = "\"'`"
_CLOSE_WORD = re.compile(r"(?:" + "|".join(BLOCK_CLOSE_WORDS) + r")\b")
_WORD_CHAR = re.compile(r"\w")
# What may stand before a docstring's opening quotes on their line: indentation and a
# string prefix (r, u, b, f and pairs).
_DOCSTRING_LEAD = re.compile(r"[ \t]*[rRuUbBfF]{0,2}")


def only_closers(line_after: str, syntax: Syntax, line_before: str = "") -> bool:
    """Whether the text after the cursor on its line closes things and nothing more:
    whitespace, ``) ] }``, ``;`` and ``,``, the language's quotes, and words that end
    a block. A cursor inside a word (``foo|end``) has code after it."""
    if line_before and line_after and _WORD_CHAR.match(line_before[-1]) \
            and _WORD_CHAR.match(line_after[0]):
        return False
    allowed = _CLOSER_CHARS + (syntax.quotes or _DEFAULT_QUOTES)
    pos = 0
    while pos < len(line_after):
        if line_after[pos] in allowed:
            pos += 1
            continue
        word = _CLOSE_WORD.match(line_after, pos)
        if word is None:
            return False
        pos = word.end()
    return True


def in_doc_text(lexer: Lexer, read: str, file_start: bool = False) -> bool:
    """Whether the cursor, where ``lexer`` stands after reading ``read`` (the text
    before the cursor it was given), is in a doc comment or a docstring.

    The opener must begin its line: a block comment's (``/**``, ``--[[``), or a
    triple-quoted string's after at most a string prefix (``r\"\"\"``); and a string
    is a docstring only after a line that ends with ``:`` (``def f():``), or first in
    the file (``file_start``: ``read`` begins at the file's first line), after nothing
    but comments. Strings given as values (``sql = \"\"\"``, ``f(\n    \"\"\"``) are
    not prose. The lexer reads a window of text, and where that window starts inside
    a string it takes the closing quotes for opening ones; closing quotes follow a
    line of text, so they fail this test and the place counts as code, as it did
    before this rule. (At random places in the Python standard library and
    site-packages, 0.007 % of places in code pass it, and two thirds of the places in
    docstrings do; the rest stay blocks.) A line before the docstring that ends in a
    comment (``def f():  # noqa``) is not seen to end with ``:``."""
    since = lexer.in_long_text()
    if since is None:
        return False
    syntax = lexer.syntax
    string = lexer.mode is Mode.STRING
    opener_len = 3 if string or syntax.block_comment is None else len(syntax.block_comment[0])
    opener = len(read) - since - opener_len
    if opener < 0:
        return False
    start = read.rfind("\n", 0, opener) + 1
    lead = read[start:opener]
    if not string:
        return not lead.strip()
    if not _DOCSTRING_LEAD.fullmatch(lead):
        return False
    earlier = [line.strip() for line in read[:start].split("\n")]
    earlier = [line for line in earlier if line]
    if earlier and earlier[-1].endswith(":"):
        return True
    comment = syntax.line_comment
    return file_start and all(comment is not None and line.startswith(comment)
                              for line in earlier)


def one_line(multiline: str, line_before: str, line_after: str, syntax: Syntax,
             doc_text: bool = False) -> bool:
    """Whether the server is told to stop the suggestion at this place at the newline
    (``multiline`` is the option; ``doc_text``: see :func:`in_doc_text`). In doc text
    after text on the cursor line, the suggestion is one line too, but the line it
    may go on to: the stopper ends it there (see core/stopper.py)."""
    if multiline == "never":
        return True
    if multiline == "always":
        return False
    if doc_text and not line_before.strip():
        return True
    return not only_closers(line_after, syntax, line_before)
