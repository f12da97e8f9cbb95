"""Byte streams to JSON objects: NDJSON lines (Ollama) and SSE events (OpenAI, llama.cpp)."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from typing import Any

from llama_coder.backends.http import StreamState
from llama_coder.core.errors import MalformedStream, clip
from llama_coder.core.framing import LineSplitter, LineTooLong, SseEvent, SseParser

DONE = "[DONE]"


def parse_object(text: str) -> dict[str, Any]:
    """One JSON object from a line or event; anything else is a malformed stream."""
    try:
        value = json.loads(text)
    except ValueError:
        raise MalformedStream(f"malformed line from the server: {clip(text)}") from None
    if not isinstance(value, dict):
        raise MalformedStream(f"unexpected line from the server: {clip(text)}")
    return value


async def ndjson_objects(chunks: AsyncIterator[bytes]) -> AsyncGenerator[dict[str, Any], None]:
    splitter = LineSplitter()
    try:
        async for chunk in chunks:
            for line in splitter.feed(chunk):
                if line.strip():
                    yield parse_object(line)
        for line in splitter.flush():
            yield parse_object(line)
    except LineTooLong as exc:
        raise MalformedStream(f"a line from the server never ended: {clip(str(exc))}") from None


async def sse_objects(
    chunks: AsyncIterator[bytes], state: StreamState | None = None
) -> AsyncGenerator[dict[str, Any], None]:
    """The JSON payload of each SSE event until ``[DONE]`` (which marks ``state``
    complete).

    An ``event: error`` event becomes ``{"error": ...}`` so callers see one shape.
    """
    parser = SseParser()

    def payloads(events: Iterable[SseEvent]) -> Iterable[dict[str, Any] | None]:
        for event in events:
            if event.data.strip() == DONE:
                yield None
                return
            if event.event == "error":
                try:
                    obj = parse_object(event.data)
                except MalformedStream:
                    obj = {"error": event.data}
                yield obj if "error" in obj else {"error": obj}
            else:
                yield parse_object(event.data)

    try:
        async for chunk in chunks:
            for obj in payloads(parser.feed(chunk)):
                if obj is None:
                    if state is not None:
                        state.complete = True
                    return
                yield obj
        for obj in payloads(parser.flush()):
            if obj is None:
                if state is not None:
                    state.complete = True
                return
            yield obj
    except LineTooLong as exc:
        raise MalformedStream(f"an event from the server never ended: {clip(str(exc))}") from None


def error_text(value: object) -> str:
    """The message of an ``error`` field: a string, or an object with ``message``."""
    if isinstance(value, dict):
        return clip(str(value.get("message") or value.get("error") or value))
    return clip(str(value))
