from __future__ import annotations

from hypothesis import example, given, settings
from hypothesis import strategies as st

from llama_coder.core.completion import plan
from llama_coder.core.config import parse_config
from llama_coder.core.fim import BUILTIN_TEMPLATES
from llama_coder.core.prompt import Snapshot

CFG = parse_config({"max_lines": 3}).config
QWEN = BUILTIN_TEMPLATES["qwen"]


def test_plan_carries_request_settings() -> None:
    p = plan(Snapshot(["x = f("], 0, 0, 6, "a.py", "python"), CFG, QWEN)
    assert p.request.max_tokens == 256 and p.request.temperature == 0.2
    assert p.request.stop == QWEN.stop
    assert p.request.client_prompt() == (
        "<|fim_prefix|># Language: Python\n# Path: a.py\nx = f(<|fim_suffix|><|fim_middle|>"
    )


def test_closing_a_bracket_opened_on_the_cursor_line_is_kept() -> None:
    p = plan(Snapshot(['print("hel'], 0, 0, 10, "a.py", "python"), CFG, QWEN)
    stopper = p.stopper()
    stopper.feed('lo")\nmore = 1\n')
    assert p.finish(stopper.finish()) == 'lo")\nmore = 1'


def test_closer_already_in_the_line_stops_generation() -> None:
    p = plan(Snapshot(["print()"], 0, 0, 6, "a.py", "python"), CFG, QWEN)
    stopper = p.stopper()
    assert stopper.feed("x)") is True
    assert p.finish(stopper.finish()) == "x"


def test_cursor_inside_a_docstring_brackets_are_prose() -> None:
    lines = ['def f():', '    """Return (the', '    answer']
    p = plan(Snapshot(lines, 0, 2, 10, "a.py", "python"), CFG, QWEN)
    stopper = p.stopper()
    stopper.feed(")  to it.\n")
    assert "closes a block" not in stopper.reason


def test_cursor_in_a_block_comment_of_c() -> None:
    lines = ["/* note (", " * more"]
    p = plan(Snapshot(lines, 0, 1, 7, "a.c", "c"), CFG, QWEN)
    stopper = p.stopper()
    stopper.feed(") */\n")
    assert not stopper.done  # ")" is prose; the comment closes, so code may follow


def test_defused_tokens_copied_by_the_model_come_back_whole() -> None:
    p = plan(Snapshot(["if '<|fim_middle|>' in s:", "    "], 0, 1, 4, "a.py", "python"), CFG,
             QWEN)
    assert "'<\u200b|fim_middle|>'" in p.request.client_prompt()
    stopper = p.stopper()
    stopper.feed("return '<\u200b|fim_middle|>'")
    assert p.finish(stopper.finish()) == "return '<|fim_middle|>'"


def test_other_files_in_repo_format_comments_or_neither() -> None:
    config = parse_config({}).config
    snap = Snapshot(["x = "], 0, 0, 4, "src/a.py", "python")
    extra = [("b.py", "import os\n"), ("c.py", "<|fim_middle|>\n")]
    qwen = plan(snap, config, QWEN, extra=extra, repo="proj").request.client_prompt()
    assert qwen == ("<|repo_name|>proj\n<|file_sep|>b.py\nimport os\n\n<|file_sep|>c.py\n"
                    "<\u200b|fim_middle|>\n\n<|file_sep|>src/a.py\n<|fim_prefix|># Language: "
                    "Python\n# Path: src/a.py\nx = <|fim_suffix|><|fim_middle|>")
    codellama = plan(snap, config, BUILTIN_TEMPLATES["codellama"], extra=extra).request
    assert codellama.client_prompt().startswith(
        "<PRE> # From b.py:\n# import os\n# From c.py:\n# <|fim_middle|>\n# Language: Python")
    assert codellama.prefix_with_context().startswith("# From b.py:\n# import os\n")
    plain = plan(snap, config, QWEN).request
    assert plain.client_prompt().startswith("<|fim_prefix|>") and plain.extra_context == ()


# --- line by line: what may be shown while a suggestion streams in ---------------------

def block_plan(after: list[str] | None = None):  # type: ignore[no-untyped-def]
    lines = ["def f(x):", "    "] + (after or [])
    return plan(Snapshot(lines, 0, 1, 4, "a.py", "python"),
                parse_config({"max_lines": 16}).config, QWEN)


def test_early_shows_complete_lines_only() -> None:
    p = block_plan()
    assert p.early("y = x") is None
    assert p.early("y = x\n    ret") == "y = x"
    assert p.early("y = x\n    return y\n") == "y = x\n    return y"


def test_early_holds_back_a_line_that_repeats_the_text_after_the_cursor() -> None:
    p = block_plan(["    return y", "", "print(f(1))"])
    assert p.early("y = x * 2\n    return y\n") == "y = x * 2"
    # Followed by new code the line was not a repeat: the final text keeps it.
    assert p.finish("y = x * 2\n    return y\n    z = 3") is not None


@settings(max_examples=300, deadline=None)
# Two repeated lines are trimmed whatever their indentation, one only at the same: the
# first of them must wait.
@example(lines=["y = x", "        pass", "        pass"], after=["    pass", "    pass"])
# ... and once those go, the line before them may be a repeat too.
@example(lines=["", "    pass", "        pass", "return 3"], after=["    pass", "return 3"])
@given(st.lists(st.sampled_from(["y = x", "    return y", "if x:", "        pass", "",
                                 "z = (1,", "     2)", "return 3", "\tq = 1", "x)", "    pass",
                                 "pa"]),
                min_size=1, max_size=6),
       st.lists(st.sampled_from(["    return y", "", "print(f(1))", "    pass", "        pass",
                                 "return 3"]), max_size=3))
def test_every_line_shown_early_stays_in_the_final_text(lines: list[str],
                                                         after: list[str]) -> None:
    """What the ghost shows while streaming is never taken back by the final text."""
    p = block_plan(after)
    text = "\n".join(lines)
    final = p.finish(text) or ""
    for end in range(len(text)):
        if text[end] == "\n":
            shown = p.early(text[:end + 1])
            assert shown is None or final.startswith(shown), (text[:end + 1], shown, final)
