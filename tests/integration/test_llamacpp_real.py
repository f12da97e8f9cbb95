"""Backends against a real llama-server running the real SmolLM2-135M model."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import pytest

from devtools import llama_server
from llama_coder.backends.base import Backend, StreamStats
from llama_coder.backends.registry import create_backend
from llama_coder.core.completion import Request
from llama_coder.core.config import parse_config
from llama_coder.core.fim import BUILTIN_TEMPLATES
from tests.fakes.server import until

pytestmark = pytest.mark.llamacpp

PREFIX_ONLY = BUILTIN_TEMPLATES["prefix-only"]
QWEN = BUILTIN_TEMPLATES["qwen"]
CODE = "def add(a, b):\n    return"


@pytest.fixture(scope="module")
def plain_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llama_server.LlamaServer]:
    log = tmp_path_factory.mktemp("llama") / "plain.log"
    with llama_server.running(llama_server.smollm2_path(), log) as server:
        yield server


@pytest.fixture(scope="module")
def fim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llama_server.LlamaServer]:
    log = tmp_path_factory.mktemp("llama") / "fim.log"
    with llama_server.running(llama_server.fim_model_path(), log) as server:
        yield server


def backend(server: llama_server.LlamaServer, kind: str = "llamacpp", **options: Any) -> Backend:
    result = parse_config({"backend": kind, "endpoint": server.url, **options})
    assert result.problems == []
    return create_backend(result.config)


def request(template: Any = PREFIX_ONLY, prefix: str = CODE, max_tokens: int = 12,
            allow_server_fim: bool | None = None) -> Request:
    return Request(prefix, "\n", template, max_tokens, 0.0, template.stop,
                   allow_server_fim=template.server_fim if allow_server_fim is None
                   else allow_server_fim)


async def collect(b: Backend, req: Request, stats: StreamStats | None = None) -> str:
    return "".join([t async for t in b.stream(req, stats=stats)])


async def test_check_model_and_probe(plain_server: llama_server.LlamaServer) -> None:
    b = backend(plain_server)
    try:
        probe = await b.probe()
        assert probe.reachable and probe.detail == "ok" and probe.latency_ms > 0
        check = await b.check_model()
        assert check.status == "present"
        assert check.model.endswith(llama_server.MODEL_FILE)
        assert (await b.check_model("SmolLM2-135M-Instruct")).status == "present"
        assert (await b.check_model("qwen2.5-coder-7b")).status == "missing"
    finally:
        await b.aclose()


async def test_completion_stream_with_cache_stats(plain_server: llama_server.LlamaServer) -> None:
    b = backend(plain_server)
    try:
        first, second = StreamStats(), StreamStats()
        text = await collect(b, request(), first)
        assert text.strip()
        assert first.route == "/completion" and first.predicted_tokens
        again = await collect(b, request(prefix=CODE + " a"), second)
        assert again.strip()
        # The second prompt shares its start with the first: served from the KV cache.
        assert second.cached_tokens and second.cached_tokens > 0
    finally:
        await b.aclose()


async def test_openai_backend_against_v1_completions(
    plain_server: llama_server.LlamaServer,
) -> None:
    b = backend(plain_server, "openai")
    try:
        check = await b.check_model()
        assert check.status == "present"
        text = await collect(b, request())
        assert text.strip()
    finally:
        await b.aclose()


class RecordingTransport(httpx.AsyncHTTPTransport):
    """The real transport, noting each request's path and answer status."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, int]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        self.seen.append((request.url.path, response.status_code))
        return response


async def test_infill_501_falls_back_to_completion_once(
    plain_server: llama_server.LlamaServer,
) -> None:
    transport = RecordingTransport()
    config = parse_config({"backend": "llamacpp", "endpoint": plain_server.url}).config
    b = create_backend(config, transport=transport)
    try:
        for _ in range(3):
            stats = StreamStats()
            await collect(b, request(QWEN), stats)
            assert stats.route == "/completion"
        assert b.infill_supported() is False  # type: ignore[attr-defined]
    finally:
        await b.aclose()
    assert transport.seen == [("/infill", 501)] + [("/completion", 200)] * 3


async def test_infill_with_fim_capable_model(fim_server: llama_server.LlamaServer) -> None:
    b = backend(fim_server)
    try:
        stats = StreamStats()
        req = Request("def add(a, b):\n    return ", "\n\nprint(add(1, 2))\n", PREFIX_ONLY, 8,
                      0.0, (), extra_context=(("util.py", "import math\n"),),
                      allow_server_fim=True)
        text = await collect(b, req, stats)
        assert stats.route == "/infill"
        assert stats.predicted_tokens is not None and stats.predicted_tokens > 0
        # Greedy decoding (temperature 0) of the generated tokens gives text: the
        # stream's pieces were read and joined, none lost.
        assert text.strip(), repr(text)
    finally:
        await b.aclose()


async def test_cancel_mid_stream_stops_generation(plain_server: llama_server.LlamaServer) -> None:
    b = backend(plain_server, llamacpp={"t_max_predict_ms": 60000})
    cancel = asyncio.Event()
    got: list[str] = []
    n_predict = 400
    req = Request("Once upon a time", "", PREFIX_ONLY, n_predict, 0.8, (),
                  allow_server_fim=False)
    log_before = len(plain_server.log_text())
    try:
        async for chunk in b.stream(req, cancel=cancel):
            got.append(chunk)
            if len(got) == 3:
                cancel.set()
    finally:
        await b.aclose()
    assert len(got) == 3

    def released() -> list[int]:
        tail = plain_server.log_text()[log_before:]
        if "cancel task" not in tail:
            return []
        return [int(n) for n in re.findall(r"stop processing: n_tokens = (\d+)", tail)]

    assert await until(lambda: bool(released()), 10), plain_server.log_text()[-1500:]
    # The slot was released long before n_predict tokens were generated.
    assert released()[-1] < n_predict


async def test_a_cut_stream_goes_on_from_the_server_prompt_cache(
        plain_server: llama_server.LlamaServer) -> None:
    """ui.rest_after's two requests against the real server: the first, cut after its
    first line, still reported its prompt (timings in every event); the second, our
    prompt followed by the model's own text, is evaluated from the KV cache but for a
    few tokens, and goes on from there."""
    b = backend(plain_server)
    prefix = "def mean(values):\n    total = 0\n    for v in values:\n"
    first = request(prefix=prefix, max_tokens=60)
    cut, cut_stats = "", StreamStats()
    try:
        async with aclosing(b.stream(first, stats=cut_stats)) as chunks:
            async for chunk in chunks:
                cut += chunk
                if cut.strip() and "\n" in cut.lstrip("\n"):
                    break  # the first line with text is in: the request is cut
        assert cut_stats.prompt_tokens is not None  # known before the stream's end
        rest_stats = StreamStats()
        rest = await collect(b, dataclasses.replace(first, continuation=cut, max_tokens=20),
                             rest_stats)
    finally:
        await b.aclose()
    assert rest_stats.cached_tokens is not None and rest_stats.prompt_tokens is not None
    # All of the first prompt and nearly all of the text cut from it came from the cache.
    assert rest_stats.cached_tokens >= (cut_stats.prompt_tokens or 0) + (
        cut_stats.cached_tokens or 0)
    assert rest_stats.prompt_tokens <= 4, rest_stats
    assert rest_stats.predicted_tokens and not rest.startswith(cut)


def test_model_file_is_real() -> None:
    path = llama_server.smollm2_path()
    assert path.stat().st_size > 90_000_000
    assert Path(llama_server.fim_model_path()).stat().st_size > 90_000_000
