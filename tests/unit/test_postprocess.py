from __future__ import annotations

from llama_coder.core.languages import detect_language
from llama_coder.core.lexer import Syntax
from llama_coder.core.postprocess import (
    drop_repeated_tail,
    fit_indentation,
    postprocess,
    repeats_following_lines,
)

PY = Syntax.of(detect_language("python", ""))


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
    assert repeats_following_lines("\n    return x", suffix)
    assert postprocess("\n    return x", PY, "    y = 1", "", suffix) is None
    assert postprocess("\n    return y", PY, "    y = 1", "", suffix) == "\n    return y"


def test_indentation_follows_buffer_style() -> None:
    text = "if x:\n\tdo()\n\t\tdeep()"
    assert fit_indentation(text, expandtab=True, tabstop=4) == "if x:\n    do()\n        deep()"
    spaces = "if x:\n    do()\n      odd()"
    assert fit_indentation(spaces, expandtab=False, tabstop=4) == "if x:\n\tdo()\n\t  odd()"
    assert postprocess("a\n\tb", PY, "", "", "", expandtab=True, tabstop=2) == "a\n  b"


def test_trailing_blank_lines_are_dropped_leading_newline_kept() -> None:
    assert postprocess("\n    return 1\n\n", PY, "def f():", "", "") == "\n    return 1"
