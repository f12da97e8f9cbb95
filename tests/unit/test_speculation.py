from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from llama_coder.core.config import parse_config
from llama_coder.core.prompt import Snapshot, build_prompt
from llama_coder.core.speculation import accepted

CONFIG = parse_config({}).config


def test_single_and_multi_line_acceptance() -> None:
    snap = Snapshot(["def f(x):", "    return x", "# end"], 10, 11, 12, "a.py", "python")
    one = accepted(snap, " + 1")
    assert one.lines == ["def f(x):", "    return x + 1", "# end"]
    assert (one.row, one.col) == (11, 16)
    two = accepted(Snapshot(["if a:", "x)"], 0, 1, 0), "b(\n    c")
    assert two.lines == ["if a:", "b(", "    cx)"] and (two.row, two.col) == (2, 5)


WORDS = st.text(alphabet="ab (\n\t", max_size=12)


@given(st.lists(st.text(alphabet="ab (\t", max_size=8), min_size=1, max_size=6), st.data(),
       WORDS)
def test_prompt_after_acceptance_is_the_prompt_of_the_typed_text(
    lines: list[str], data: st.DataObject, text: str
) -> None:
    # The prefetch's prompt must equal the prompt the editor builds once the text is
    # in the buffer; that is what makes the next request a cache hit.
    row = data.draw(st.integers(0, len(lines) - 1))
    col = data.draw(st.integers(0, len(lines[row])))
    snap = Snapshot(lines, 0, row, col, "a.py", "python")
    offset = sum(len(line) + 1 for line in lines[:row]) + col
    whole = "\n".join(lines)
    typed = whole[:offset] + text + whole[offset:]
    head = typed[: offset + len(text)]
    real = Snapshot(typed.split("\n"), 0, head.count("\n"), len(head.split("\n")[-1]),
                    "a.py", "python")
    assert accepted(snap, text) == real
    assert build_prompt(accepted(snap, text), CONFIG) == build_prompt(real, CONFIG)
