"""One line or a block: what each place asks the server for (core/place.py, plan())."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llama_coder.core.completion import NEWLINE, plan
from llama_coder.core.config import parse_config
from llama_coder.core.fim import BUILTIN_TEMPLATES
from llama_coder.core.languages import detect_language
from llama_coder.core.lexer import Syntax, lexer_after
from llama_coder.core.place import in_doc_text, one_line, only_closers
from llama_coder.core.prompt import Snapshot

QWEN = BUILTIN_TEMPLATES["qwen"]
PY = Syntax.of(detect_language("python", "a.py"))
LUA = Syntax.of(detect_language("lua", "a.lua"))
AUTO = parse_config({}).config


def plan_at(lines: list[str], row: int, col: int, multiline: str = "auto",
            filetype: str = "python") -> tuple[bool, tuple[str, ...]]:
    config = parse_config({"multiline": multiline}).config
    ext = {"python": "py", "lua": "lua", "javascript": "js"}[filetype]
    p = plan(Snapshot(lines, 0, row, col, f"a.{ext}", filetype), config, QWEN)
    return p.one_line, p.request.stop


# --- the places -------------------------------------------------------------------------

def test_mid_line_with_code_after_is_one_line_stopped_at_the_newline() -> None:
    single, stop = plan_at(["x = compute(a, b) + 1"], 0, 4)
    assert single
    assert stop[0] == NEWLINE and stop[1:] == QWEN.stop


def test_mid_line_with_only_closers_after_is_a_block() -> None:
    for line, col in [('print("hi")', 9), ("f(g(x))", 5), ("items = [1, 2];", 13),
                      ("call(x) ,  ", 6)]:
        single, stop = plan_at([line], 0, col)
        assert not single, line
        assert stop == QWEN.stop


def test_end_of_a_line_that_opens_a_block_is_a_block() -> None:
    single, stop = plan_at(["def f(x):"], 0, 9)
    assert not single and NEWLINE not in stop
    assert not plan_at(["function f() {", "}"], 0, 14, filetype="javascript")[0]


def test_empty_line_in_a_block_is_a_block() -> None:
    single, stop = plan_at(["def f(x):", "    ", "    return x"], 1, 4)
    assert not single and NEWLINE not in stop


def test_end_of_a_plain_line_is_a_block() -> None:
    single, _ = plan_at(["def f(x):", "    y = x + 1"], 1, 13)
    assert not single


def test_trailing_spaces_after_the_cursor_are_the_end_of_the_line() -> None:
    assert not plan_at(["x = 1   "], 0, 5)[0]


def test_block_closer_words_count_as_closers_not_a_word_being_typed() -> None:
    assert only_closers(" end", LUA, "if x then ")
    assert only_closers("end)", LUA, "f(function() ")
    assert not only_closers("end", LUA, "local send")  # the cursor is inside "sendend"
    assert not only_closers(" ending", LUA, "x = ")
    assert not only_closers(" end + 1", LUA, "x = ")


def test_quotes_are_the_languages() -> None:
    assert only_closers('")', PY)
    assert only_closers("`)", Syntax())  # no language: any usual quote
    assert not only_closers(".strip()", PY)


def test_the_option_overrides_the_place() -> None:
    assert plan_at(["x = f(a) + 1"], 0, 4, "always") == (False, QWEN.stop)
    assert plan_at(["def f(x):", "    "], 1, 4, "never")[0]
    assert plan_at(["def f(x):", "    "], 1, 4, "never")[1][0] == NEWLINE


# --- doc comments and docstrings: one line of text ----------------------------------------

MODULE_DOC = ['"""Decides what to keep.', "", "More prose", "    "]
FUNCTION_DOC = ["def f(x):", '    """', "    Doubles x.", "    "]


def doc_plan(lines: list[str], row: int, col: int, multiline: str = "auto",
             filetype: str = "python") -> tuple[bool, bool, tuple[str, ...]]:
    config = parse_config({"multiline": multiline}).config
    ext = {"python": "py", "lua": "lua", "javascript": "js"}[filetype]
    p = plan(Snapshot(lines, 0, row, col, f"a.{ext}", filetype), config, QWEN)
    return p.one_line, p.doc_text, p.request.stop


def test_an_empty_line_in_a_docstring_is_one_line_stopped_at_the_newline() -> None:
    for lines in (MODULE_DOC, FUNCTION_DOC):
        single, doc, stop = doc_plan(lines, 3, 4)
        assert single and doc, lines
        assert stop[0] == NEWLINE


def test_the_end_of_a_docstring_line_is_one_line_that_may_be_the_next_one() -> None:
    single, doc, stop = doc_plan(MODULE_DOC, 2, 11)
    assert single and doc
    assert NEWLINE not in stop  # the model may go on to the next line first
    p = plan(Snapshot(MODULE_DOC, 0, 2, 11, "a.py", "python"), AUTO, QWEN)
    stopper = p.stopper()
    stopper.feed("\n\nThe next line of prose.\nAnd one more.\n")
    assert stopper.finish() == "\n\nThe next line of prose."
    stopper = p.stopper()
    stopper.feed(" goes on here.\nAnd the next.\n")
    assert stopper.finish() == " goes on here."


def test_a_block_comment_is_doc_text() -> None:
    lines = ["/**", " * Adds two numbers.", " * ", " */", "function add(a, b) {}"]
    single, doc, stop = doc_plan(lines, 2, 3, filetype="javascript")
    assert single and doc and NEWLINE not in stop  # " * " is text on the line
    assert doc_plan(["--[[ A note", "  "], 1, 2, filetype="lua")[1]


def test_code_after_a_docstring_is_code_again() -> None:
    lines = ["def f(x):", '    """Doubles x."""', "    "]
    single, doc, stop = doc_plan(lines, 2, 4)
    assert not single and not doc and NEWLINE not in stop


def test_a_string_given_as_a_value_is_not_doc_text() -> None:
    lines = ['query = """', "SELECT a", ""]
    assert doc_plan(lines, 2, 0)[:2] == (False, False)


def test_the_option_overrides_doc_text() -> None:
    assert doc_plan(MODULE_DOC, 3, 4, "always")[:2] == (False, False)
    assert doc_plan(MODULE_DOC, 3, 4, "never")[:2] == (True, False)


def lexed(text: str, file_start: bool = False, syntax: Syntax = PY) -> bool:
    return in_doc_text(lexer_after(syntax, text), text, file_start)


def test_closing_quotes_taken_for_opening_ones_are_not_doc_text() -> None:
    """Where the lexer's window starts inside a string, its closing quotes look like
    opening ones: they follow a line of text, not a line that ends with ":"."""
    assert not lexed('    that ends here."""\n    x = 1\n    ')
    assert not lexed('    the last line of prose\n    """\n    x = 1\n    ')
    assert not lexed('        More help.\n        """)\n    x = 1\n    ')
    assert not lexed('    text\n    """.strip()\nx = 1\n', file_start=True)
    assert not lexed('    """\n    x = 1\n    ')  # the window's first line: unknown
    assert lexed('def f():\n    """\n    Prose.\n    ')
    assert lexed('x = 1\n\nclass A:\n    r"""Summary.\n    ')
    assert not lexed('x = 1\n')


def test_strings_given_as_values_are_not_doc_text() -> None:
    assert not lexed('x = f("""\n  ')
    assert not lexed('cur.execute(\n    """SELECT a, b\n    FROM t\n    ')
    assert not lexed('PARTS = [\n    """first part\n    ')


def test_a_module_docstring_is_doc_text_only_at_the_file_start() -> None:
    assert lexed('"""\nA module.\n\n', file_start=True)
    assert lexed('#!/usr/bin/env python\n# Path: a.py\n"""A module.\n', file_start=True)
    assert not lexed('"""\nA module.\n\n')  # a window that may start anywhere
    assert not lexed('import os\n"""\nA string.\n', file_start=True)


def test_the_file_start_counts_only_where_the_lexer_read_from_it() -> None:
    # A long licence header: the lexer's window starts after the file's first line.
    header = [f"# Licence line {i}: " + "x" * 60 for i in range(40)]
    lines = [*header, '"""', "A module.", ""]
    assert not doc_plan(lines, len(lines) - 1, 0)[1]
    assert doc_plan([*header[:5], '"""', "A module.", ""], 7, 0)[1]


def test_a_block_comment_counts_where_it_begins_its_line() -> None:
    js = Syntax.of(detect_language("javascript", "a.js"))
    assert lexed("/**\n * Adds.\n * ", syntax=js)
    assert lexed("  /* note\n", syntax=js)
    # A "/*" inside a regular expression is read as a comment opener: not doc text.
    assert not lexed("p = p.replace(/\\/*$/, '');\nx = 1;\n", syntax=js)


def test_a_bad_value_falls_back_to_auto() -> None:
    result = parse_config({"multiline": "sometimes"})
    assert result.config.multiline == "auto"
    assert any("multiline" in p for p in result.problems)


# --- the stopper ends a one-line suggestion at the newline ---------------------------------

def test_one_line_stopper_ends_at_the_newline_even_inside_brackets() -> None:
    p = plan(Snapshot(["x = (a) + 1"], 0, 0, 5, "a.py", "python"), AUTO, QWEN)
    stopper = p.stopper()
    # An open bracket would keep a block suggestion going over the newline.
    assert stopper.feed("foo(bar,\n baz)") is True
    assert stopper.finish() == "foo(bar,"
    assert stopper.reason == "stop string '\\n'"


@given(st.text(alphabet="ab()[]{}\"' \n:;,=", max_size=30),
       st.lists(st.integers(min_value=1, max_value=5), max_size=8))
def test_one_line_suggestions_never_hold_a_newline(text: str, cuts: list[int]) -> None:
    """Whatever the model streams and however it is split, a mid-line place gets at
    most the text before the first newline."""
    p = plan(Snapshot(["x = y + 1"], 0, 0, 4, "a.py", "python"), AUTO, QWEN)
    stopper = p.stopper()
    pos = 0
    for cut in cuts:
        stopper.feed(text[pos:pos + cut])
        pos += cut
    stopper.feed(text[pos:])
    out = stopper.finish()
    assert "\n" not in out
    assert text.split("\n", 1)[0].startswith(out)


@pytest.mark.parametrize("multiline", ["auto", "always", "never"])
def test_end_of_line_follows_the_option(multiline: str) -> None:
    assert one_line(multiline, "x = 1", "", PY) == (multiline == "never")
