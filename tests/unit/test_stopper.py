from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from llama_coder.core.languages import detect_language
from llama_coder.core.lexer import Lexer, Syntax
from llama_coder.core.stopper import (
    LOOP_CHARS,
    LOOP_UNIT,
    REPEAT_CHARS,
    LineLoop,
    RepeatedLines,
    Stopper,
    open_brackets_on_line,
)

PY = Syntax.of(detect_language("python", ""))
QWEN_STOP = ("<|endoftext|>", "<|fim_prefix|>", "<|file_sep|>")


def run(chunks: list[str], max_lines: int = 16, stop: tuple[str, ...] = (),
        syntax: Syntax | None = PY, closable: str = "", indent: int = 0
        ) -> tuple[str, Stopper]:
    stopper = Stopper(max_lines, stop, Lexer(syntax) if syntax else None, closable, indent)
    return feed_all(stopper, chunks), stopper


def feed_all(stopper: Stopper, chunks: list[str]) -> str:
    """The suggestion for these chunks, fed as the engine feeds a stream."""
    for chunk in chunks:
        if stopper.feed(chunk):
            break
    return stopper.finish()


def test_mismatched_closer_stops_and_is_not_kept() -> None:
    text, s = run(["foo(a, [b)", " + 1"])
    assert text == "foo(a, [b"
    assert s.done and "mismatched" in s.reason


def test_closer_of_block_opened_before_cursor_stops() -> None:
    text, s = run(["x = 1\n", "}\nmore"], syntax=Syntax.of(detect_language("c", "")))
    assert text == "x = 1\n"
    assert "before the cursor" in s.reason


def test_closer_of_bracket_opened_on_cursor_line_is_kept() -> None:
    text, _ = run(['lo")\n', "print(2)"], closable="(", max_lines=1)
    assert text == 'lo")'


def test_brackets_in_strings_and_comments_do_not_count() -> None:
    text, s = run(['print(")")  # }\n', "x = ']'\n"])
    assert text == "print(\")\")  # }\nx = ']'\n"
    assert not s.done


def test_llama_coder_counts_string_brackets_we_do_not() -> None:
    # With no language (no lexer knowledge) the ")" inside the string ends it.
    text, _ = run(['f(")")'], syntax=None)
    assert text == 'f(")"'  # the quoted ")" popped the "("


def test_max_lines_with_multiline_tokens() -> None:
    text, s = run(["a\nb\nc\nd\ne"], max_lines=3)
    assert text == "a\nb\nc"
    assert s.reason == "max_lines"


def test_max_lines_waits_for_balanced_brackets() -> None:
    text, _ = run(["f(\n1,\n2,\n3)\nnext\n"], max_lines=2)
    assert text == "f(\n1,\n2,\n3)"


def test_stop_string_split_across_chunks_leaks_nothing() -> None:
    text, s = run(["x = 1<|end", "oftext|>more"], stop=QWEN_STOP)
    assert text == "x = 1"
    assert "stop string" in s.reason


def test_held_back_text_that_was_not_a_stop_string_is_kept() -> None:
    stopper = Stopper(16, QWEN_STOP, Lexer(PY))
    stopper.feed("a <|end")
    assert stopper.text == "a "  # "<|end" might begin a stop string: held back
    stopper.feed("ing")
    assert stopper.text == "a <|ending"
    assert stopper.finish() == "a <|ending"


def test_pending_prefix_flushed_at_stream_end() -> None:
    text, _ = run(["value <|fim"], stop=QWEN_STOP)
    assert text == "value <|fim"


def test_trailing_eot_stripped_and_lines_trimmed() -> None:
    text, _ = run(["a = 1   \nb = 2  <EOT>"])
    assert text == "a = 1\nb = 2"


def test_nothing_after_done_is_read() -> None:
    stopper = Stopper(1, (), Lexer(PY))
    assert stopper.feed("one\ntwo") is True
    assert stopper.feed("three") is True
    assert stopper.finish() == "one"


def test_open_brackets_on_line() -> None:
    lexer = Lexer(PY)
    assert open_brackets_on_line(lexer, 'print(foo["a', "") == "(["
    assert open_brackets_on_line(Lexer(PY), "print(foo(", ")") == "("
    assert open_brackets_on_line(Lexer(PY), "print(foo(", "))") == ""
    assert open_brackets_on_line(Lexer(PY), 'print("(', "") == "("


ALPHABET = st.sampled_from(list("ab (){}[]\"'#\n\t<|>endoftxt\\é😀  "))
STREAMS = st.lists(ALPHABET, max_size=120).map("".join)


@st.composite
def stream_and_cuts(draw: st.DrawFn) -> tuple[str, list[str]]:
    text = draw(STREAMS)
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=12)))
    pieces, last = [], 0
    for cut in [*cuts, len(text)]:
        pieces.append(text[last:cut])
        last = cut
    return text, pieces


@settings(max_examples=400, deadline=None)
@given(stream_and_cuts(), st.integers(1, 4), st.sampled_from(["", "(", "[("]),
       st.integers(0, 2))
def test_any_chunking_gives_the_same_result(
    case: tuple[str, list[str]], max_lines: int, closable: str, indent: int
) -> None:
    text, pieces = case
    whole, a = run([text], max_lines, QWEN_STOP, closable=closable, indent=indent)
    chars, b = run(list(text), max_lines, QWEN_STOP, closable=closable, indent=indent)
    split, c = run(pieces, max_lines, QWEN_STOP, closable=closable, indent=indent)
    assert whole == chars == split
    assert a.done == b.done == c.done
    assert a.reason == b.reason == c.reason
    for s in QWEN_STOP:
        assert s not in whole


def test_dedent_below_the_cursor_line_ends_the_suggestion() -> None:
    stopper = Stopper(16, (), Lexer(PY), min_indent=4)
    text = feed_all(stopper, ["x * 2\n", "    y = 1\n\ndef other():\n    pass"])
    assert text == "x * 2\n    y = 1\n\n"
    assert stopper.reason == "dedent"


def test_dedent_inside_open_brackets_does_not_stop() -> None:
    stopper = Stopper(16, (), Lexer(PY), min_indent=4)
    assert feed_all(stopper, ["f(\n1)\n    z"]) == "f(\n1)\n    z"


# --- a line that falls into a loop -------------------------------------------------------

# What SmolLM2-135M streamed on llama-server: "-n" until max_tokens (256).
LOOPING = ["x = parse(", '"', *["-n"] * 256]


def test_a_looping_line_ends_early_and_the_loop_is_not_kept() -> None:
    stopper = Stopper(16, QWEN_STOP, Lexer(PY))
    fed = 0
    for token in LOOPING:
        fed += 1
        if stopper.feed(token):
            break
    assert stopper.done and stopper.reason == "loop of '-n'"
    assert fed < 64  # well before the 256 tokens the server would have generated
    assert stopper.finish() == ""  # the looping line goes whole


def test_a_suggestion_that_is_only_a_loop_is_empty() -> None:
    text, s = run(["-n" * 300])
    assert text == ""
    assert s.done


def test_a_loop_of_one_character_ends_too() -> None:
    text, s = run(["    x = 1  # " + "~" * 300])
    assert text == ""
    assert s.reason == "loop of '~'"


def test_a_multi_line_suggestion_keeps_the_lines_before_the_loop() -> None:
    text, s = run(["def f(x):\n", "    y = x * 2\n", "    return ", "y0" * 200, "\nmore"])
    assert text == "def f(x):\n    y = x * 2"  # "    return y0y0..." goes whole
    assert s.reason == "loop of 'y0'"


LEGIT_LINES = [
    "# " + "=" * 77,  # a separator comment, 79 wide
    "# " + "=" * 98,  # ... 100 wide
    "-- " + "-" * 76,
    "// " + "/" * 76,
    "    # " + "- " * 36 + "-",  # a spaced separator
    "#" + "-=" * 39,
    "table = [0, 0, 0, 0]",
    "row = [" + ", ".join(["0"] * 30) + "]",  # a data row as wide as a line gets
    "masks = (" + ", ".join(["255U"] * 16) + ")",
    "print('ab' * 3)",
    'text = "a\\n\\n\\n\\n\\n\\nb"',
    'data = b"' + "\\x00" * 20 + '"',
    "\t\t\t\t" + " " * 120 + "x = 1",  # indentation is never a loop
    "keys = ':map <C-U> " + "<C-Y>" * 16 + "'",
]


def test_lines_of_real_code_with_repeats_are_kept_whole() -> None:
    for line in LEGIT_LINES:
        text, s = run([line + "\n", "y = 2"])
        assert text == line + "\ny = 2", line
        assert not s.done


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="ab-n =\n(", max_size=40), st.sampled_from(["-n", "=", "ab ", "(0, "]),
       st.integers(0, 300), st.lists(st.integers(1, 12), max_size=40))
def test_any_chunking_of_a_loop_gives_the_same_result(
    head: str, unit: str, times: int, steps: list[int]
) -> None:
    text = head + unit * times + "\nnext"
    pieces, i = [], 0
    for step in steps:
        pieces.append(text[i : i + step])
        i += step
    pieces.append(text[i:])
    whole, a = run([text], stop=QWEN_STOP)
    chars, b = run(list(text), stop=QWEN_STOP)
    split, c = run(pieces, stop=QWEN_STOP)
    assert whole == chars == split
    assert a.done == b.done == c.done
    assert a.reason == b.reason == c.reason


def looping_run(line: str) -> int:
    """The loop the end of ``line`` is in, by the definition, read afresh: the longest
    end of the line with period n (1 <= n <= LOOP_UNIT) whose unit is not whitespace
    nor a shorter unit repeated, when it reaches LOOP_CHARS; else 0."""
    for n in range(1, LOOP_UNIT + 1):
        unit = line[-n:]
        if len(line) < n or unit.isspace() or any(unit == unit[:d] * (n // d)
                                                 for d in range(1, n) if n % d == 0):
            continue
        start = len(line) - n
        while start > 0 and line[start - 1] == line[start - 1 + n]:
            start -= 1
        if len(line) - start >= LOOP_CHARS:
            return len(line) - start
    return 0


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="ab -\t", min_size=1, max_size=8),
                          st.integers(1, 60)), max_size=6))
def test_line_loop_finds_what_the_definition_says(parts: list[tuple[str, int]]) -> None:
    line = "".join(unit * times for unit, times in parts)
    watch = LineLoop()
    for end in range(1, len(line) + 1):
        found = watch.feed(line[end - 1])
        want = looping_run(line[:end])
        assert (found[0] if found else 0) == want
        if found:
            assert line[:end].endswith(found[1])
            break


def in_docstring() -> Lexer:
    lexer = Lexer(PY)
    lexer.feed_text('def f():\n    """')
    return lexer


def test_doc_text_is_one_line_of_text_the_line_a_suggestion_goes_on_to_counts() -> None:
    def first_text_line(chunks: list[str]) -> str:
        return feed_all(Stopper(16, (), in_docstring(), doc_text=True), chunks)

    assert first_text_line(["\n\n  next line\nmore\n"]) == "\n\n  next line"
    assert first_text_line(["rest of this line\nnext\n"]) == "rest of this line"
    assert first_text_line(list("\n \n\tx\ny")) == "\n\n\tx"
    # Brackets are prose in doc text.
    assert first_text_line(["f(a,\n  b)\nnext\n"]) == "f(a,"
    assert feed_all(Stopper(1, (), Lexer(PY)), ["\n\nnext\n"]) == ""


def test_once_the_doc_text_closes_a_block_may_follow() -> None:
    body = 'Doubles x."""\n    y = 2 * x\n    return y\n'
    stopper = Stopper(16, (), in_docstring(), min_indent=4, doc_text=True)
    assert feed_all(stopper, [body]) == body
    chars = Stopper(16, (), in_docstring(), min_indent=4, doc_text=True)
    assert feed_all(chars, list(body)) == body


# --- lines said twice in a row ------------------------------------------------------------

def test_two_lines_said_again_end_the_suggestion_before_the_repeat() -> None:
    # What SmolLM2-135M streamed at the end of a docstring session.
    text = ("i``, it is not possible to change it.\n"
            "* The ``print`` function is not a function, it is a method\n"
            "not a function of the class.\n"
            "* The ``print`` function is not a function, it is a method\n"
            "not a function of the class.\n"
            "* The ``print`` function is not a function, it is a method\n")
    out, stopper = run([text])
    assert out == ("i``, it is not possible to change it.\n"
                   "* The ``print`` function is not a function, it is a method\n"
                   "not a function of the class.")
    assert stopper.reason == "2 line(s) repeated"


def test_one_line_said_again_ends_the_suggestion() -> None:
    out, stopper = run(["total = compute(a, b)\ntotal = compute(a, b)\nmore()\n"])
    assert out == "total = compute(a, b)"
    assert stopper.done


def test_a_dataclass_said_again_ends_the_suggestion() -> None:
    group = "@dataclass(frozen=True)\nclass Request:\n    server: str\n    model: str\n"
    out, stopper = run(["\n" + group * 3])
    assert out == "\n" + group.rstrip("\n")
    assert stopper.reason == "4 line(s) repeated"


def test_a_group_just_short_of_the_limits_is_kept() -> None:
    line = "x" * (REPEAT_CHARS - 1)
    out, stopper = run([f"{line}\n{line}\n"])
    assert out == f"{line}\n{line}\n" and not stopper.done
    out, stopper = run([f"{line}x\n{line}x\n"])
    assert out == f"{line}x" and stopper.done


def test_a_repeat_in_the_last_line_of_a_stream_ends_it_too() -> None:
    stopper = Stopper(16, (), Lexer(PY))
    stopper.feed("total = compute(a, b)\ntotal = compute(a, b)")
    assert not stopper.done
    assert stopper.finish() == "total = compute(a, b)"
    assert stopper.finish() == "total = compute(a, b)"  # again: the same


def test_a_repeat_in_a_last_line_ended_by_a_stop_ends_it_too() -> None:
    line = "total = compute(a, b)"
    for ending in ("<|endoftext|>", ""):
        out, stopper = run([f"{line}\n{line}{ending}"], stop=QWEN_STOP)
        assert out == line, ending
        assert stopper.reason == "1 line(s) repeated"
    out, _ = run([f"{line}\n{line}</s>"])  # an end marker that is no stop string
    assert out == line


def test_finish_takes_the_last_line_once() -> None:
    stopper = Stopper(16, (), Lexer(PY))
    stopper.feed("alpha beta gamma delta\nzeta eta theta iota kappa")
    first = stopper.finish()
    assert stopper.finish() == first == "alpha beta gamma delta\nzeta eta theta iota kappa"
    # After max_lines the last line was taken with its newline: not again at the end.
    stopper = Stopper(2, (), Lexer(PY))
    stopper.feed("first = line(one)\nsecond = line(two)\nthird\n")
    assert stopper.finish() == stopper.finish() == "first = line(one)\nsecond = line(two)"


def test_trailing_space_before_the_cursor_does_not_hide_a_repeat() -> None:
    stopper = Stopper(16, (), Lexer(PY), first_line_start="result = compute(a, b) ")
    assert feed_all(stopper, ["\nresult = compute(a, b)\n"]) == ""


def test_short_repeated_lines_show_at_once() -> None:
    stopper = Stopper(16, (), Lexer(PY))
    stopper.feed("if a:\n    f()\nend\nelse:\n    g()\nend\n")
    assert stopper.settled == stopper.text


def test_short_blank_or_apart_repeats_are_real_code() -> None:
    # Short lines, blank lines and a line that comes again later are kept.
    text = "end\nend\nx += 1\nx += 1\n\n\nresult = compute(a)\nother()\nresult = compute(a)\n"
    out, stopper = run([text], syntax=None)
    assert out == text
    assert not stopper.done


def test_the_first_line_is_compared_with_the_text_before_the_cursor() -> None:
    stopper = Stopper(16, (), Lexer(PY), first_line_start="    ")
    assert feed_all(stopper, ["value = compute(x)\n    value = compute(x)\n"]) == \
        "value = compute(x)"
    stopper = Stopper(16, (), Lexer(PY), first_line_start="x = ")
    text = "compute(x)\ncompute(x)\n"
    assert feed_all(stopper, [text]) == text  # "x = compute(x)" is not "compute(x)"


def test_lines_that_may_begin_a_repeat_are_not_settled() -> None:
    stopper = Stopper(16, (), Lexer(PY))
    stopper.feed("first = line(1)\nsecond = line(2)\nfirst = line(1)\n")
    assert stopper.settled == "first = line(1)\nsecond = line(2)\n"
    stopper.feed("third = line(3)\n")
    assert stopper.settled == stopper.text  # it was no repeat


@st.composite
def looping_lines(draw: st.DrawFn) -> list[str]:
    pool = ["a = compute(x)", "b = compute(y)", "}", "", "    nested = call(z)", "c"]
    return draw(st.lists(st.sampled_from(pool), max_size=12))


@settings(max_examples=500, deadline=None)
@given(looping_lines(), st.integers(1, 5))
def test_settled_lines_are_never_taken_back(lines: list[str], chunk: int) -> None:
    """Whatever comes next, the lines of ``settled`` begin the final suggestion, and
    no group of lines is said twice in a row in it."""
    text = "\n".join(lines) + ("\n" if chunk % 2 else "")
    stopper = Stopper(32, (), Lexer(PY))
    settled: list[str] = []
    for i in range(0, len(text), chunk):
        if stopper.feed(text[i:i + chunk]):
            break
        settled.append(stopper.settled)
    final = stopper.finish()
    for shown in settled:
        assert (final + "\n").startswith(shown), (shown, final)
    out = final.split("\n")
    watcher = RepeatedLines()
    assert not any(watcher.add(line) for line in out)
