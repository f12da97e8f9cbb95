from __future__ import annotations

from llama_coder.core.languages import detect_language
from llama_coder.core.lexer import Lexer, LexerMemo, Mode, Syntax


def code_chars(filetype: str, text: str) -> str:
    """The brackets of ``text`` that the lexer calls code."""
    lexer = Lexer(Syntax.of(detect_language(filetype, "")))
    return "".join(ch for ch in text if lexer.feed(ch) and ch in "()[]{}")


def test_strings_and_comments_are_not_code() -> None:
    assert code_chars("python", 'f("(x", 1)  # )') == "()"
    assert code_chars("c", "a(/* ) */ b) // }") == "()"
    assert code_chars("javascript", "x(`${a}(`) ") == "()"


def test_escapes() -> None:
    assert code_chars("python", r'f("a\"(", 2)') == "()"


def test_python_triple_quotes() -> None:
    assert code_chars("python", 'x = """ ( " ) """ + ()') == "()"
    assert code_chars("python", 'a = "" + (1)') == "()"
    assert code_chars("python", "s = '''{'''; f()") == "()"


def test_lua_block_comment_that_starts_like_line_comment() -> None:
    assert code_chars("lua", "--[[ (\n ) ]] f()") == "()"
    assert code_chars("lua", "-- (\nf()") == "()"


def test_block_comment_closing_right_after_opening() -> None:
    assert code_chars("c", "/**/()") == "()"
    assert code_chars("c", "/*/ ( */)") == ")"
    assert code_chars("c", "/* a */ /* ( */ [)") == "[)"


def test_string_ends_at_line_end_for_unbalanced_quote() -> None:
    # Rust has no ' strings (lifetimes, chars): only " counts.
    assert code_chars("rust", "let c = 'a'; f(\"x\n)") == "()"


def test_plain_syntax_everything_is_code() -> None:
    lexer = Lexer(Syntax())
    assert all(lexer.feed(ch) for ch in "\"(#)'")
    assert lexer.mode is Mode.CODE


def test_comment_opener_that_starts_with_a_bracket_is_retracted() -> None:
    lexer = Lexer(Syntax.of(detect_language("ocaml", "")))
    assert lexer.feed("(") is True
    assert lexer.feed("*") is False
    assert lexer.retract == "("
    assert lexer.mode is Mode.BLOCK_COMMENT


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SYNTAXES = [Syntax.of(detect_language(ft, "")) for ft in
            ("python", "c", "lua", "html", "ocaml", "javascript", "rust", "julia", "sql")]
TOKENS = [*"ab (){}[]\"'`#/*-=<>!|\\\n%", "--[[", "]]", '"""', "<!--", "-->", "(*", "*)",
          "#=", "=#"]
TEXT = st.lists(st.sampled_from(TOKENS), max_size=80).map("".join)


@settings(max_examples=600, deadline=None)
@given(st.sampled_from(SYNTAXES), TEXT, TEXT)
def test_fast_feed_text_equals_char_by_char(syntax: Syntax, text: str, more: str) -> None:
    fast, slow = Lexer(syntax), Lexer(syntax)
    fast.feed_text(text)
    for ch in text:
        slow.feed(ch)
    assert vars(fast) == vars(slow)
    # And they go on to judge the same characters the same way.
    assert [fast.feed(ch) for ch in more] == [slow.feed(ch) for ch in more]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SYNTAXES[:3]), st.sampled_from(["", "a(", "'x", "#"])),
                max_size=8), TEXT)
def test_memo_gives_a_fresh_lexer_in_the_state_after_the_text(
    asks: list[tuple[Syntax, str]], more: str
) -> None:
    memo = LexerMemo()
    for syntax, text in asks:
        got = memo.after(syntax, text)
        want = Lexer(syntax)
        want.feed_text(text)
        assert vars(got) == vars(want)
        got.feed_text(more)  # moving the copy must not move the remembered state
        assert vars(memo.after(syntax, text)) == vars(want)
