"""Stream framing, decoded where the bytes arrive: UTF-8, NDJSON lines, SSE events.

Network chunks split anywhere: inside a multi-byte character, a JSON line or an SSE
event. These decoders keep the partial piece until the rest arrives.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass


class Utf8Decoder:
    """Incremental UTF-8: a character split across chunks comes out whole.

    Invalid bytes become U+FFFD instead of raising.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def decode(self, data: bytes) -> str:
        return self._decoder.decode(data, final=False)

    def flush(self) -> str:
        return self._decoder.decode(b"", final=True)


class LineSplitter:
    """Bytes in, complete lines out (``\\n`` or ``\\r\\n`` ended, terminator removed)."""

    def __init__(self, max_line: int = 4 * 1024 * 1024) -> None:
        self._utf8 = Utf8Decoder()
        self._buffer = ""
        self.max_line = max_line

    def feed(self, data: bytes) -> Iterator[str]:
        self._buffer += self._utf8.decode(data)
        if "\n" not in self._buffer:
            if len(self._buffer) > self.max_line:
                raise LineTooLong(self._buffer[:200])
            return
        *lines, self._buffer = self._buffer.split("\n")
        for line in lines:
            yield line[:-1] if line.endswith("\r") else line

    def flush(self) -> Iterator[str]:
        rest = self._buffer + self._utf8.flush()
        self._buffer = ""
        if rest.strip():
            yield rest.rstrip("\r")


class LineTooLong(ValueError):
    """A line grew past the splitter's limit without a newline."""


@dataclass(frozen=True)
class SseEvent:
    event: str
    data: str


class SseParser:
    """Server-sent events from bytes: ``data:`` lines joined, comments and blanks skipped."""

    def __init__(self) -> None:
        self._lines = LineSplitter()
        self._data: list[str] = []
        self._event = ""

    def feed(self, data: bytes) -> Iterator[SseEvent]:
        for line in self._lines.feed(data):
            event = self._line(line)
            if event is not None:
                yield event

    def flush(self) -> Iterator[SseEvent]:
        for line in self._lines.flush():
            event = self._line(line)
            if event is not None:
                yield event
        event = self._dispatch()
        if event is not None:
            yield event

    def _line(self, line: str) -> SseEvent | None:
        if line == "":
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "error":
            # llama-server writes "error: {json}" as a field of its own.
            self._event = "error"
            self._data.append(value)
        return None

    def _dispatch(self) -> SseEvent | None:
        if not self._data:
            self._event = ""
            return None
        event = SseEvent(self._event or "message", "\n".join(self._data))
        self._data, self._event = [], ""
        return event
