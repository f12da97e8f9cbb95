from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llama_coder.core.framing import LineSplitter, LineTooLong, SseParser, Utf8Decoder


def test_multibyte_character_split_across_chunks_is_intact() -> None:
    data = "é😀€".encode()
    decoder = Utf8Decoder()
    out = "".join(decoder.decode(data[i : i + 1]) for i in range(len(data)))
    assert out + decoder.flush() == "é😀€"


def test_invalid_utf8_is_replaced_not_raised() -> None:
    decoder = Utf8Decoder()
    assert decoder.decode(b"a\xffb") + decoder.flush() == "a\ufffdb"


def test_ndjson_lines_across_arbitrary_boundaries() -> None:
    lines = [json.dumps({"response": "héllo 😀"}), json.dumps({"done": True})]
    data = ("\r\n".join(lines) + "\n").encode()
    splitter = LineSplitter()
    out: list[str] = []
    for i in range(len(data)):
        out.extend(splitter.feed(data[i : i + 1]))
    out.extend(splitter.flush())
    assert [json.loads(line) for line in out] == [json.loads(line) for line in lines]


def test_unterminated_last_line_is_flushed() -> None:
    splitter = LineSplitter()
    assert list(splitter.feed(b'{"a":1}\n{"b"')) == ['{"a":1}']
    assert list(splitter.feed(b":2}")) == []
    assert list(splitter.flush()) == ['{"b":2}']


def test_line_limit() -> None:
    splitter = LineSplitter(max_line=10)
    with pytest.raises(LineTooLong):
        list(splitter.feed(b"x" * 11))


def test_sse_comments_crlf_and_multiline_data() -> None:
    raw = (
        b': keep-alive\r\n\r\ndata: {"a":\r\ndata: 1}\r\n\r\n'
        b"event: error\ndata: boom\n\ndata: [DONE]\n\n"
    )
    parser = SseParser()
    events = list(parser.feed(raw)) + list(parser.flush())
    assert [(e.event, e.data) for e in events] == [
        ("message", '{"a":\n1}'), ("error", "boom"), ("message", "[DONE]"),
    ]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=6), st.data())
def test_sse_chunking_invariance(payloads: list[str], data: st.DataObject) -> None:
    payloads = [p.replace("\r", "").replace("\n", " ") for p in payloads]
    raw = "".join(f"data: {p}\n\n" for p in payloads).encode()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=10)))
    parser = SseParser()
    events, last = [], 0
    for cut in [*cuts, len(raw)]:
        events.extend(parser.feed(raw[last:cut]))
        last = cut
    events.extend(parser.flush())
    assert [e.data for e in events] == payloads
