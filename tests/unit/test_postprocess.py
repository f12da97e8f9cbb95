from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from llama_coder.core.completion import plan
from llama_coder.core.config import parse_config
from llama_coder.core.fim import BUILTIN_TEMPLATES
from llama_coder.core.languages import detect_language
from llama_coder.core.lexer import Syntax
from llama_coder.core.postprocess import (
    Indentation,
    IndentStyle,
    drop_repeated_tail,
    fit_indentation,
    postprocess,
    read_indentation,
)
from llama_coder.core.prompt import Snapshot

PY = Syntax.of(detect_language("python", ""))
LUA = Syntax.of(detect_language("lua", ""))
C = Syntax.of(detect_language("c", ""))
SPACES4 = IndentStyle(tabs=False, unit=4, tabstop=4)


def test_empty_or_whitespace_is_no_suggestion() -> None:
    assert postprocess("", PY, "x", "", "") is None
    assert postprocess("  \n\t\n", PY, "x", "", "") is None


def test_drop_text_repeating_rest_of_line() -> None:
    assert drop_repeated_tail(PY, "print(", "foo)", ")") == "foo"
    assert drop_repeated_tail(PY, "x = f(", 'a, "b")', '"b")') == "a, "
    assert drop_repeated_tail(PY, "s = ", '"hi";', ";") == '"hi"'


def test_keep_closer_that_belongs_to_the_suggestion() -> None:
    # Inside g(|): the model wrote f(a); the ")" is f's, not g's.
    assert drop_repeated_tail(PY, "g(", "f(a)", ")") == "f(a)"


def test_partial_overlap_dropped_when_it_balances_the_line() -> None:
    assert drop_repeated_tail(PY, "d = {'a': f(", "1)}", ")}\n".rstrip()) == "1"
    assert drop_repeated_tail(PY, "print(f(", "x))", "))") == "x"


def test_suggestion_repeating_following_lines_is_dropped() -> None:
    suffix = "\n    return x\n\nprint(1)"
    assert postprocess("\n    return x", PY, "    y = 1", "", suffix) is None
    assert postprocess("\n    return y", PY, "    y = 1", "", suffix) == "\n    return y"


# --- issue 15 part 1: a tail that repeats the lines after the cursor -------------------------


def test_new_line_then_repeated_lines_keeps_the_new_line() -> None:
    suffix = "\n    return x + y\n\nprint(f(1))"
    text = "\n    y = 2\n    return x + y\n\nprint(f(1))"
    assert postprocess(text, PY, "    x = 1", "", suffix) == "\n    y = 2"


def test_repeat_with_other_indentation_and_blank_lines_is_trimmed() -> None:
    suffix = "\n    total = a + b\n    return total\n"
    text = "\n    b = 2\n\n        total = a + b\n\n      return total"
    assert postprocess(text, PY, "    a = 1", "", suffix) == "\n    b = 2"


def test_repeat_that_starts_on_the_suggestions_first_line() -> None:
    suffix = "\n    return x\n    # done"
    # The cursor is on a line of its own: the whole suggestion is the following lines.
    assert postprocess("return x\n    # done", PY, "    ", "", suffix) is None
    assert postprocess("y = 1\n    return x", PY, "    ", "", suffix) == "y = 1"
    # The user started the line; completed, it is the next line: its completion stays,
    # the lines after it go.
    assert postprocess("urn x\n    # done", PY, "    ret", "", suffix) == "urn x"


def test_partial_repeat_where_the_model_stopped_inside_a_line() -> None:
    suffix = "\n    return compute(x, y)\n"
    assert postprocess("\n    y = 2\n    return comp", PY, "    x = 1", "", suffix) == "\n    y = 2"
    assert postprocess("y = 2\n    ret", PY, "    ", "", suffix) == "y = 2"


def test_rest_of_the_cursor_line_repeated_across_a_line_break() -> None:
    suffix = ")\nbar()\nbaz()"
    assert postprocess("a)\nbar()", PY, "foo(", ")", suffix) == "a"
    assert postprocess("a, b)\nbar()\nba", PY, "foo(", ")", suffix) == "a, b"
    assert postprocess(")\nbar()", PY, "foo(", ")", suffix) is None


def test_rest_of_the_cursor_line_on_a_line_of_its_own_keeps_the_line_break() -> None:
    # Accepting puts "foo()" after the suggestion's last line again: keep that line.
    suffix = "foo()\n    bar()"
    assert postprocess("setup()\n    foo()\n    bar()", PY, "    ", "foo()", suffix) \
        == "setup()\n    "
    assert postprocess("foo()\n    bar()", PY, "    ", "foo()", suffix) is None


def test_a_closer_line_repeats_only_at_the_same_indentation() -> None:
    # The "end" closes the if the suggestion opened; the file's "end" closes the function.
    text = "if ok then\n    run()\n  end"
    assert postprocess(text, LUA, "  ", "", "\nend\n", expandtab=True, tabstop=2) == text
    assert postprocess("run()\n  end", LUA, "  ", "", "\n  end\nend") == "run()"


def test_repeated_lines_that_close_brackets_the_new_part_opened_are_trimmed() -> None:
    # The middle stops inside a call; the model goes on with the call's real next lines.
    suffix = "\n        text='Clear',\n        command=clear)\n    button.grid()"
    text = "button = Button(frame,\n        text='Clear',\n        command=clear)\n    but"
    assert postprocess(text, PY, "    ", "", suffix) == "button = Button(frame,"


def test_a_lone_empty_comment_line_is_a_whole_line() -> None:
    # "---" is an empty doc-comment line, not the start of the next one.
    suffix = "\n---@return string\nfunction M.f() end"
    text = "---@param x string\n---"
    assert postprocess(text, LUA, "", "", suffix) == text
    assert postprocess("---@param x string\n---@ret", LUA, "", "", suffix) \
        == "---@param x string"


def test_a_closing_quote_the_line_has_goes_even_if_its_bracket_opened_earlier() -> None:
    # "f(\n    '|')": the ")" closes a bracket of the line before; ending in a string is
    # what is wrong with keeping the quote.
    assert drop_repeated_tail(PY, "    '", "is gone'", "')") == "is gone"


def test_genuine_new_code_like_a_following_line_at_another_indentation_is_kept() -> None:
    # One line that matches a following one only up to indentation is new code.
    suffix = "\n    return None\n"
    text = "\n        return None"
    assert postprocess(text, PY, "    if x:", "", suffix) == text


# --- indentation ---------------------------------------------------------------------------


def test_indentation_follows_buffer_style() -> None:
    text = "if x:\n\tdo()\n\t\tdeep()"
    assert fit_indentation(text, SPACES4) == "if x:\n    do()\n        deep()"
    spaces = "if x:\n    do()\n      odd()"
    tabs = IndentStyle(tabs=True, unit=4, tabstop=4)
    assert fit_indentation(spaces, tabs) == "if x:\n\tdo()\n\t  odd()"
    assert postprocess("a\n\tb", PY, "", "", "", expandtab=True, tabstop=2) == "a\n  b"


def test_the_text_around_the_cursor_decides_spaces_or_tabs_and_the_level() -> None:
    lua = "local function f()\n  if a then\n    b()\n  end\nend\n"
    assert read_indentation(lua, "") == Indentation(tabs=False, unit=2)
    # Neovim's Lua buffers have noexpandtab and tabstop 8 by default: the file says spaces.
    assert IndentStyle.of(read_indentation(lua, ""), expandtab=False, tabstop=8) \
        == IndentStyle(False, 2, 8)
    assert read_indentation("if a:\n", "\tb()\n").tabs
    assert IndentStyle.of(read_indentation("", ""), expandtab=False, tabstop=8).tabs
    prefix = "function M.f()\n  local x = 1\n  "
    text = "if x then\n\t\ty()\n\tend"
    assert postprocess(text, LUA, "  ", "", "\nend", expandtab=False, tabstop=8,
                       prefix=prefix) == "if x then\n    y()\n  end"


def test_the_level_ignores_aligned_lines_prose_and_comments() -> None:
    code = ('def f(a,\n      b):\n    """Doc.\n\n    Options:\n      -x  the x\n    """\n'
            "    # note:\n    #   indented\n    parser.add(x,\n               help='y')\n"
            "    if a:\n        return b\n")
    assert read_indentation(code, "") == Indentation(tabs=False, unit=4)
    # No block opens here: the least indentation (the cursor line's too) is one level.
    assert read_indentation("x = 1\n  ", "") == Indentation(tabs=False, unit=2)
    assert read_indentation("x = 1\n", "y = 2") == Indentation(tabs=None, unit=None)
    # Tabs for 8 columns and spaces for the rest, as Vim's noexpandtab writes.
    assert read_indentation("if a then\n  b()\n\t  c()\n\td()\n", "").tabs


def test_first_line_indentation_is_fitted_when_it_starts_the_line() -> None:
    assert postprocess("\tx = 1\n\ty = 2", PY, "", "", "", prefix="def f():\n    a\n") \
        == "    x = 1\n    y = 2"
    assert postprocess("a\tb", PY, "x = ", "", "") == "a\tb"


def test_a_suggestion_that_starts_a_line_stays_in_its_block() -> None:
    text = "    return x\n\ndef g():\n    pass"
    assert postprocess(text, PY, "", "", "\n") == "    return x"


def test_trailing_blank_lines_are_dropped_leading_newline_kept() -> None:
    assert postprocess("\n    return 1\n\n", PY, "def f():", "", "") == "\n    return 1"
    assert postprocess("x = 1  \n  \n\n", PY, "    ", "", "") == "x = 1"


# --- properties ----------------------------------------------------------------------------

# New code and the following lines are written with different letters, so they share
# nothing; indentation is in steps of four spaces, as in the buffer around them, and no
# line leaves the block of the cursor line (``before``).
NEW_WORD = st.text("abcdefgh(=+", min_size=1, max_size=8).filter(lambda w: w.strip() != "")
OLD_WORD = st.text("nopqrstu]", min_size=1, max_size=8).filter(lambda w: w.strip() != "")
INDENT = st.sampled_from(["", "    ", "        "])
CONTEXT = "def f():\n    x\n"


def _lines(words: st.SearchStrategy[str], blank: bool = False) -> st.SearchStrategy[list[str]]:
    line = st.builds(lambda i, w: i + w.strip(), INDENT, words)
    return st.lists(st.one_of(line, st.just("")) if blank else line, min_size=1, max_size=5)


def _suggestion(before: str, lines: list[str]) -> str:
    """The lines as a suggestion after ``before``: the first continues the cursor line."""
    return "\n".join([lines[0].lstrip(), *(before + line if line else "" for line in lines[1:])])


@given(_lines(NEW_WORD), _lines(OLD_WORD, blank=True), INDENT)
def test_a_suggestion_sharing_nothing_with_the_following_lines_is_unchanged(
        new: list[str], old: list[str], before: str) -> None:
    text = _suggestion(before, new)
    suffix = "\n" + "\n".join(before + line if line else "" for line in old)
    assert postprocess(text, PY, before, "", suffix, prefix=CONTEXT) == text


@given(_lines(NEW_WORD), _lines(OLD_WORD), st.integers(min_value=1, max_value=5),
       st.booleans(), st.booleans(), INDENT)
def test_a_repeated_tail_is_trimmed_and_the_new_part_kept(
        new: list[str], old: list[str], count: int, partial: bool, blank: bool,
        before: str) -> None:
    old = [before + line for line in old]
    repeated = old[:count]
    if partial and len(repeated[-1].strip()) > 1:
        repeated[-1] = repeated[-1][:-1]
    kept = _suggestion(before, new)
    text = kept + ("\n\n" if blank else "\n") + "\n".join(repeated)
    suffix = "\n" + "\n".join(old)
    assert postprocess(text, PY, before, "", suffix, prefix=CONTEXT) == kept


@given(st.lists(st.one_of(_lines(NEW_WORD), _lines(OLD_WORD), _lines(OLD_WORD, blank=True)),
                min_size=1, max_size=3),
       _lines(OLD_WORD), INDENT)
def test_the_result_never_ends_with_a_line_that_starts_the_suffix(
        parts: list[list[str]], old: list[str], before: str) -> None:
    text = _suggestion(before, [line for part in parts for line in part])
    old = [before + line for line in old]
    suffix = "\n" + "\n".join(old)
    shown = postprocess(text, PY, before, "", suffix, prefix=CONTEXT)
    if shown is None:
        return
    last = shown.split("\n")[-1]
    if "\n" not in shown:
        if before.strip():
            return  # the user's own line: its completion stays
        last = before + last
    # The same line, or the start of it with a word in it (a lone "]" may be whole).
    first, body = old[0], last.strip()
    starts = body == first.strip() or (first.strip().startswith(body) and re.search(r"\w", body))
    same_indent = len(last) - len(last.lstrip()) == len(first) - len(first.lstrip())
    assert not (body and starts and same_indent), (shown, suffix)


def test_plan_finish_reads_the_style_from_the_prompt() -> None:
    # A Lua buffer as Neovim opens it (noexpandtab, tabstop 8) in a file indented with
    # two spaces: the suggestion keeps spaces, a repeated "end" goes.
    lines = ["local function f(a)", "  if a then", "    ", "  end", "end"]
    p = plan(Snapshot(lines, 0, 2, 4, "a.lua", "lua"), parse_config({}).config,
             BUILTIN_TEMPLATES["qwen"])
    assert p.finish("for i = 1, a do\n      print(i)\n    end\n  end", expandtab=False,
                    tabstop=8) == "for i = 1, a do\n      print(i)\n    end"


def test_a_models_tabs_in_a_buffer_indented_with_spaces_do_not_end_the_block() -> None:
    # The stopper's dedent rule counts a model's tab as one level of the buffer.
    lines = ["class A:", "    def f(self):", "        x = 1", "        ", "        return x"]
    p = plan(Snapshot(lines, 0, 3, 8, "a.py", "python"), parse_config({}).config,
             BUILTIN_TEMPLATES["qwen"])
    stopper = p.stopper()
    stopper.feed("if x:\n\t\t\ty = 2\n\t\tz = 3\n\tdef g(self):\n")
    assert p.finish(stopper.finish(), expandtab=True, tabstop=4) \
        == "if x:\n            y = 2\n        z = 3"


def test_an_unfinished_empty_comment_before_one_is_a_repeat() -> None:
    # "--" stopped short of the "---" that follows; "---" before "---@return" is whole.
    assert postprocess("---@field x? boolean\n--", LUA, "", "", "\n---\n---@field y") \
        == "---@field x? boolean"


def test_a_tab_and_spaces_buffer_keeps_its_mix() -> None:
    # LuaJIT's style: a tab for 8 columns, spaces for the rest (noexpandtab, tabstop 8).
    prefix = "local function f(x)\n  if x then\n    g(x)\n      h(x)\n\tif y then\n\t  "
    text = "k(x,\n\t    y)\n\tend"
    shown = postprocess(text, LUA, "\t  ", "", "\n      end\n  end\nend", expandtab=False,
                        tabstop=8, prefix=prefix)
    assert shown == "k(x,\n\t    y)"  # the "end" at 8 columns leaves the block at 10
