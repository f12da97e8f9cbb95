"""How much a place calls for: one line, or a block.

In the middle of a line, with code after the cursor, a suggestion can only finish
that line: it is one line, and the server is told to stop at the newline. Anywhere
else (the end of a line, an empty line, or before only closers such as ``)``, ``"``,
``;`` or ``end``) it may run over several lines to the end of the block, as the
stopper allows (``multiline``: 'auto' follows this rule, 'always' and 'never' do
not look at the place).
"""

from __future__ import annotations

import re

from llama_coder.core.lexer import Syntax

# Words that end a block in some language (Lua, Ruby, shell, Vim script, Basic).
BLOCK_CLOSE_WORDS = ("end", "fi", "done", "esac", "endif", "endfor", "endwhile",
                     "endfunction", "endfunc", "wend")
# What may stand after the cursor on its line without making the place mid-line:
# whitespace, closing brackets, separators, quotes (added per language), closer words.
_CLOSER_CHARS = " \t)]};,"
_DEFAULT_QUOTES = "\"'`"
_CLOSE_WORD = re.compile(r"(?:" + "|".join(BLOCK_CLOSE_WORDS) + r")\b")
_WORD_CHAR = re.compile(r"\w")


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


def one_line(multiline: str, line_before: str, line_after: str, syntax: Syntax) -> bool:
    """Whether the suggestion at this place is one line (``multiline`` is the option)."""
    if multiline == "never":
        return True
    if multiline == "always":
        return False
    return not only_closers(line_after, syntax, line_before)
