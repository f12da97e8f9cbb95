"""Server-side faults: each ends in one clear, typed message (issue 6's server list)."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from llama_coder.backends.registry import create_backend
from llama_coder.core.completion import Request
from llama_coder.core.config import parse_config
from llama_coder.core.errors import (
    ConnectTimeout,
    LlamaCoderError,
    MalformedStream,
    ServerError,
    Unreachable,
)
from llama_coder.core.fim import BUILTIN_TEMPLATES
from tests.fakes.backends import LlamaCppFake, OllamaFake, OpenAIFake, ProtocolFake
from tests.fakes.server import Piece, Reply

QWEN = BUILTIN_TEMPLATES["qwen"]
REQUEST = Request("def f(", ")", QWEN, 16, 0.0, QWEN.stop)
FAKES: dict[str, Any] = {"ollama": OllamaFake, "openai": OpenAIFake,
                         "vllm": lambda: OpenAIFake(vllm=True), "llamacpp": LlamaCppFake}


async def outcome(kind: str, url: str) -> LlamaCoderError | str:
    model = "Qwen/Qwen2.5-Coder-1.5B" if kind in ("openai", "vllm") else ""
    backend = create_backend(parse_config({"backend": kind, "endpoint": url,
                                           "model": model}).config)
    try:
        return "".join([t async for t in backend.stream(REQUEST)])
    except LlamaCoderError as exc:
        return exc
    finally:
        await backend.aclose()


def framed(kind: str, text: str) -> bytes:
    if kind == "ollama":
        return b'{"response": "%s", "done": false}\n' % text.encode()
    return b'data: {"choices": [{"text": "%s"}], "content": "%s"}\n\n' % (
        text.encode(), text.encode())


def fault_reply(fault: str, kind: str) -> Reply:
    if fault == "html_200":
        return Reply(200, "text/html", [Piece(b"<html><body>Sign in</body></html>")],
                     chunked=False)
    if fault == "redirect":
        return Reply(302, "text/html", [], headers={"Location": "https://elsewhere/"},
                     chunked=False)
    if fault == "binary_garbage":
        return Reply(200, "application/octet-stream", [Piece(b"\xff\xfe\x00\x01garbage\n\n")])
    if fault == "ten_megabytes":
        return Reply(200, "text/event-stream", [Piece(b"data: " + b"x" * 10_000_000)])
    if fault == "dies_mid_stream":
        return Reply(200, "text/event-stream", [Piece(framed(kind, "x"))], die=True)
    if fault == "no_end_marker":
        return Reply(200, "text/event-stream", [Piece(framed(kind, "x"))])
    raise AssertionError(fault)


EXPECTED = {
    "html_200": (MalformedStream, "HTML page"),
    "redirect": (ServerError, "redirected (302)"),
    "binary_garbage": ((MalformedStream, ServerError), ""),
    "ten_megabytes": (MalformedStream, "never ended"),
    "dies_mid_stream": (ServerError, "closed the connection"),
    "no_end_marker": (ServerError, "ended before"),
}


@pytest.mark.parametrize("kind", sorted(FAKES))
@pytest.mark.parametrize("fault", sorted(EXPECTED))
async def test_fault_gives_one_clear_error(kind: str, fault: str) -> None:
    fake: ProtocolFake = FAKES[kind]()
    with fake:
        path = "/infill" if kind == "llamacpp" else fake.completion_paths[0]
        fake.override(path, fault_reply(fault, kind))
        result = await outcome(kind, fake.url)
    error_type, fragment = EXPECTED[fault]
    assert isinstance(result, error_type), result
    assert fragment in str(result)
    assert "Traceback" not in str(result) and len(str(result)) < 400


@pytest.mark.parametrize("kind", sorted(FAKES))
async def test_name_that_does_not_resolve(kind: str) -> None:
    result = await outcome(kind, "http://no-such-host.invalid:8080")
    assert isinstance(result, Unreachable)
    assert "no-such-host.invalid" in str(result)


@pytest.mark.parametrize("kind", sorted(FAKES))
@pytest.mark.parametrize("shape", ["[1, 2]", '"text"', '{"choices": 5, "content": 7}'])
async def test_json_of_the_wrong_shape(kind: str, shape: str) -> None:
    fake: ProtocolFake = FAKES[kind]()
    with fake:
        path = "/infill" if kind == "llamacpp" else fake.completion_paths[0]
        line = shape.encode() + b"\n" if kind == "ollama" else b"data: " + shape.encode() + b"\n\n"
        fake.override(path, Reply(200, "text/event-stream", [Piece(line)]))
        result = await outcome(kind, fake.url)
    assert isinstance(result, LlamaCoderError), result
    assert "Traceback" not in str(result)


@pytest.mark.parametrize("kind", sorted(FAKES))
async def test_nothing_listening(kind: str) -> None:
    fake: ProtocolFake = FAKES[kind]()
    with fake:
        url = fake.url
    result = await outcome(kind, url)  # the port is closed now
    assert isinstance(result, Unreachable)
    assert url in str(result) and "is the server running?" in str(result)


@pytest.fixture
def hanging_connect() -> Iterator[str]:
    """A port whose connects hang: a listener that never accepts, its queue full."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    queued = []
    for _ in range(8):  # more than the kernel queues; later SYNs are dropped
        client = socket.socket()
        client.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            client.connect(("127.0.0.1", port))
        queued.append(client)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        for client in queued:
            client.close()
        listener.close()


@pytest.mark.parametrize("kind", sorted(FAKES))
async def test_a_connect_that_hangs_times_out_with_the_setting_named(
        kind: str, hanging_connect: str) -> None:
    model = "Qwen/Qwen2.5-Coder-1.5B" if kind in ("openai", "vllm") else ""
    backend = create_backend(parse_config({"backend": kind, "endpoint": hanging_connect,
                                           "model": model,
                                           "timeout": {"connect": 300}}).config)
    try:
        with pytest.raises(ConnectTimeout) as caught:
            await backend.stream(REQUEST).__anext__()
    finally:
        await backend.aclose()
    assert str(caught.value) == (
        f"no connection to {hanging_connect} within 0.3 s (timeout.connect)")
