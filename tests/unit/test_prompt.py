from __future__ import annotations

from llama_coder.core.config import parse_config
from llama_coder.core.prompt import Snapshot, build_prompt, byte_col_to_char, window

CFG = parse_config({"context": {"prefix_lines": 8, "suffix_lines": 3}}).config


def lines(n: int) -> list[str]:
    return [f"line{i}" for i in range(n)]


def test_prefix_suffix_split_at_cursor_with_header() -> None:
    snap = Snapshot(["def f(x):", "    return x + 1", "", "print(f(2))"], 0, 1, 15,
                    "src/a.py", "python")
    p = build_prompt(snap, CFG)
    assert p.prefix == "# Language: Python\n# Path: src/a.py\ndef f(x):\n    return x + "
    assert p.suffix == "1\n\nprint(f(2))"
    assert p.line_before == "    return x + " and p.line_after == "1"


def test_header_in_block_comment_and_skipped_without_comments() -> None:
    html = build_prompt(Snapshot(["<p>"], 0, 0, 3, "i.html", "html"), CFG)
    assert html.prefix.startswith("<!-- Language: HTML -->\n<!-- Path: i.html -->\n")
    json_prompt = build_prompt(Snapshot(['{"a": 1}'], 0, 0, 1, "a.json", "json"), CFG)
    assert json_prompt.prefix == "{"
    unknown = build_prompt(Snapshot(["abc"], 0, 0, 3, "notes", ""), CFG)
    assert unknown.prefix == "abc"


def test_window_start_is_anchored_while_typing_on() -> None:
    starts = {window(row, 10_000, CFG.context)[0] for row in range(100, 102)}
    assert len(starts) == 1
    start, end = window(100, 10_000, CFG.context)
    assert 100 - start >= CFG.context.prefix_lines
    assert 100 - start < CFG.context.prefix_lines + 2
    assert end == 104


def test_prompt_does_not_grow_with_the_file() -> None:
    for size in (100, 10_000, 100_000):
        buf = lines(size)
        row = size // 2
        start, end = window(row, size, CFG.context)
        p = build_prompt(Snapshot(buf[start:end], start, row, 2, "a.py", "python"), CFG)
        body = p.prefix.split("\n")[2:]
        assert len(body) <= CFG.context.prefix_lines + 2 + 1
        assert p.suffix.count("\n") <= CFG.context.suffix_lines


def test_consecutive_prompts_share_their_start() -> None:
    buf = lines(1000)
    a = build_prompt(Snapshot(buf, 0, 500, 3, "a.py", "python"), CFG)
    b = build_prompt(Snapshot(buf, 0, 501, 3, "a.py", "python"), CFG)
    assert b.prefix.startswith(a.prefix[: a.prefix.rindex("\n")])


def test_long_lines_are_cut_to_the_budget() -> None:
    cfg = parse_config({"context": {"prefix_chars": 100, "suffix_chars": 50}}).config
    long = "x" * 20_000
    p = build_prompt(Snapshot([long, long], 0, 1, 10_000, "a.py", "python"), cfg)
    body = p.prefix.split("\n", 2)[2]
    assert body == "x" * 100
    assert p.suffix == "x" * 50


def test_budget_drops_whole_lines_from_the_start() -> None:
    cfg = parse_config({"context": {"prefix_chars": 12}}).config
    p = build_prompt(Snapshot(["aaaa", "bbbb", "cccc", "dd"], 0, 3, 2, "", "python"), cfg)
    assert p.prefix == "# Language: Python\nbbbb\ncccc\ndd"


def test_cursor_at_start_and_end_and_empty_buffer() -> None:
    assert build_prompt(Snapshot([""], 0, 0, 0), CFG).prefix == ""
    p = build_prompt(Snapshot(["ab", "cd"], 0, 0, 0), CFG)
    assert (p.prefix, p.suffix) == ("", "ab\ncd")
    p = build_prompt(Snapshot(["ab", "cd"], 0, 1, 99), CFG)
    assert (p.prefix, p.suffix) == ("ab\ncd", "")


def test_byte_columns_become_character_columns() -> None:
    line = "é😀x"
    assert byte_col_to_char(line, 0) == 0
    assert byte_col_to_char(line, 2) == 1
    assert byte_col_to_char(line, 6) == 2
    assert byte_col_to_char(line, 4) == 1  # inside the emoji: rounds down


def test_from_file_start_says_whether_every_line_before_the_cursor_is_in_the_prefix() -> None:
    assert build_prompt(Snapshot(lines(5), 0, 4, 0, "a.py", "python"), CFG).from_file_start
    # The window starts later in a long buffer, or the snapshot does.
    assert not build_prompt(Snapshot(lines(40), 0, 30, 0, "a.py", "python"),
                            CFG).from_file_start
    assert not build_prompt(Snapshot(lines(5), 10, 12, 0, "a.py", "python"),
                            CFG).from_file_start
    # The character budget left out the first lines.
    tight = parse_config({"context": {"prefix_lines": 8, "prefix_chars": 12}}).config
    assert not build_prompt(Snapshot(lines(5), 0, 4, 0, "a.py", "python"),
                            tight).from_file_start
