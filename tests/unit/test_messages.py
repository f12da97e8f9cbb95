"""Messages from Lua: parsed, and cleaned of bytes that are not UTF-8."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llama_coder.core.config import OPTIONS
from llama_coder.messages import (
    AlternativesRequest,
    BadMessage,
    CompletionRequest,
    ContextChunk,
    PullAnswer,
    char_column,
    clean,
)


def as_pynvim_sees(raw: bytes) -> str:
    """A Lua string as pynvim unpacks it (msgpack with surrogateescape)."""
    return raw.decode("utf-8", errors="surrogateescape")


def request(lines: list[str], row: int = 0, col: int = 0, **extra: object) -> dict[str, object]:
    return {"id": 1, "buf": 1, "tick": 3, "row": row, "col": col, "first_line": 0,
            "lines": lines, **extra}


def test_invalid_bytes_become_replacement_characters_one_for_one() -> None:
    line = as_pynvim_sees(b"# caf\xe9 \xff\xfe ok")
    assert clean(line) == "# caf\ufffd \ufffd\ufffd ok"
    assert len(clean(line)) == len(line)
    clean(line).encode("utf-8")  # encodable: no lone surrogates left
    json.dumps(clean(line), ensure_ascii=False).encode("utf-8")


def test_valid_text_is_untouched() -> None:
    for text in ("", "plain", "naïve ☃ 𝄞", "\ufffd already"):
        assert clean(text) == text


def test_the_cursor_byte_column_counts_raw_bytes() -> None:
    raw = b"s = '\xe9t\xe9' + '\xc3\xa9'  # x"
    line = as_pynvim_sees(raw)
    for byte_col in range(len(raw) + 1):
        expected = len(raw[:byte_col].decode("utf-8", errors="surrogateescape"))
        if raw[byte_col - 1:byte_col + 1] == b"\xc3\xa9":  # inside é: rounds down
            expected -= 1
        assert char_column(line, byte_col) == expected, byte_col


def test_completion_request_cleans_lines_and_keeps_the_column() -> None:
    raw_line = b"x = '\xe9' + "
    parsed = CompletionRequest.from_lua(request(
        [as_pynvim_sees(b"# \xff header"), as_pynvim_sees(raw_line)], row=1,
        col=len(raw_line), path=as_pynvim_sees(b"caf\xe9.py"),
        abspath=as_pynvim_sees(b"/tmp/caf\xe9.py")))
    assert parsed.lines == ["# \ufffd header", "x = '\ufffd' + "]
    assert parsed.col == len(raw_line)  # back to Lua as it came
    assert parsed.cursor_line[:parsed.char_col] == "x = '\ufffd' + "
    assert parsed.path == "caf\ufffd.py"
    assert parsed.abspath == as_pynvim_sees(b"/tmp/caf\xe9.py")  # names a file: raw


@given(st.binary(max_size=40), st.integers(min_value=0, max_value=45))
def test_any_bytes_give_clean_text_and_a_column_within_the_line(
        raw: bytes, byte_col: int) -> None:
    line = as_pynvim_sees(raw)
    parsed = CompletionRequest.from_lua(request([line], col=byte_col))
    parsed.lines[0].encode("utf-8")
    assert 0 <= parsed.char_col <= len(parsed.lines[0])
    # The text before the cursor is the raw bytes before it, cleaned.
    before = as_pynvim_sees(raw[:byte_col])
    assert clean(before).startswith(parsed.lines[0][:parsed.char_col])


def test_malformed_requests_are_refused_with_a_reason() -> None:
    with pytest.raises(BadMessage, match="lines"):
        CompletionRequest.from_lua(request("not a list"))  # type: ignore[arg-type]
    with pytest.raises(BadMessage, match="row"):
        CompletionRequest.from_lua({**request(["x"]), "row": "zero"})
    with pytest.raises(BadMessage):
        CompletionRequest.from_lua(None)
    assert CompletionRequest.from_lua({**request(["x"]), "row": 0.0}).row == 0


def test_context_chunks_are_cleaned() -> None:
    chunk = ContextChunk.from_lua({"path": as_pynvim_sees(b"l\xe9gacy.c"),
                                   "lines": [as_pynvim_sees(b"/* \xe9t\xe9 */")]})
    assert chunk == ContextChunk("l\ufffdgacy.c", ["/* \ufffdt\ufffd */"])
    with pytest.raises(BadMessage):
        ContextChunk.from_lua({"path": "a", "lines": [1]})


def test_alternatives_name_a_request_and_count_within_the_schema() -> None:
    most = int(OPTIONS["alternatives"].maximum or 0)
    ask = AlternativesRequest.from_lua({"id": 7, "count": 100, "known": ["a", "b"]})
    assert ask == AlternativesRequest(7, most, frozenset({"a", "b"}))
    assert AlternativesRequest.from_lua({"id": 7, "count": 0}).count == 1
    with pytest.raises(BadMessage):
        AlternativesRequest.from_lua({"count": 3})


def test_pull_answer() -> None:
    assert PullAnswer.from_lua(["m:7b", "download"]) == PullAnswer("m:7b", "download")
    with pytest.raises(BadMessage):
        PullAnswer.from_lua(["m:7b"])
