"""The four backends against real HTTP protocol fakes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from llama_coder.backends import http
from llama_coder.backends.base import Backend, PullProgress, StreamStats
from llama_coder.backends.registry import create_backend
from llama_coder.core.completion import Request
from llama_coder.core.config import parse_config
from llama_coder.core.errors import (
    AuthFailed,
    FirstChunkTimeout,
    MalformedStream,
    ModelMissing,
    ServerBusy,
    ServerError,
    TotalTimeout,
    Unreachable,
    Unsupported,
)
from llama_coder.core.fim import BUILTIN_TEMPLATES
from tests.fakes.backends import LlamaCppFake, OllamaFake, OpenAIFake, ProtocolFake, sse
from tests.fakes.server import Piece, Reply, until

QWEN = BUILTIN_TEMPLATES["qwen"]
REQUEST = Request(prefix="def f(", suffix=")\n", template=QWEN, max_tokens=64,
                  temperature=0.1, stop=QWEN.stop)


def backend_for(fake: ProtocolFake, kind: str, **options: Any) -> Backend:
    raw: dict[str, Any] = {"backend": kind, "endpoint": fake.url, **options}
    if kind == "openai":
        raw.setdefault("model", "Qwen/Qwen2.5-Coder-1.5B")
    result = parse_config(raw)
    assert result.problems == []
    return create_backend(result.config, environ={"TEST_KEY": "sk-canary-123"})


async def collect(backend: Backend, request: Request = REQUEST, **kw: Any) -> str:
    out = []
    async for chunk in backend.stream(request, **kw):
        out.append(chunk)
    return "".join(out)


KINDS = ["ollama", "openai", "vllm", "llamacpp"]


@pytest.fixture(params=KINDS)
def any_fake(request: pytest.FixtureRequest) -> Any:
    kind = request.param
    fake: ProtocolFake = {
        "ollama": OllamaFake, "openai": OpenAIFake,
        "vllm": lambda: OpenAIFake(vllm=True), "llamacpp": LlamaCppFake,
    }[kind]()
    with fake:
        yield kind, fake


async def test_stream_yields_tokens(any_fake: Any) -> None:
    kind, fake = any_fake
    fake.tokens = ["x", "é😀", ")"]
    backend = backend_for(fake, kind)
    try:
        assert await collect(backend) == "xé😀)"
    finally:
        await backend.aclose()


async def test_one_connection_is_reused(any_fake: Any) -> None:
    kind, fake = any_fake
    backend = backend_for(fake, kind)
    try:
        await collect(backend)
        await collect(backend)
    finally:
        await backend.aclose()
    peers = {r.peer for r in fake.completions()}
    assert len(fake.completions()) == 2 and len(peers) == 1


async def test_a_complete_answer_does_not_wait_for_the_body_to_end(
        any_fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    kind, fake = any_fake
    fake.hold_body_open = True  # the final marker arrives, the body's end never does
    monkeypatch.setattr(http, "DRAIN_SECONDS", 60.0)  # reading the rest would take "forever"
    backend = backend_for(fake, kind)
    try:
        assert await asyncio.wait_for(collect(backend), 10) == "x = 1"
        request = fake.completions()[0]
        assert request.finished_at is None and request.disconnected_at is None
    finally:
        await backend.aclose()
    assert fake.wait_for(lambda: fake.completions()[0].disconnected_at is not None)


async def test_stale_keep_alive_connection_is_retried_once(any_fake: Any) -> None:
    kind, fake = any_fake
    backend = backend_for(fake, kind)
    try:
        assert await collect(backend) == "x = 1"
        fake.drop_reused_once = True
        assert await collect(backend) == "x = 1"
    finally:
        await backend.aclose()
    assert len({r.peer for r in fake.completions()}) == 2


async def test_stale_connection_is_retried_for_model_checks_too(any_fake: Any) -> None:
    kind, fake = any_fake
    backend = backend_for(fake, kind)
    try:
        assert await collect(backend) == "x = 1"
        fake.drop_reused_once = True
        assert (await backend.check_model()).status == "present"
    finally:
        await backend.aclose()


async def test_cancel_closes_the_connection_within_100ms(any_fake: Any) -> None:
    kind, fake = any_fake
    fake.tokens = ["a"] * 50
    fake.delay = 0.05
    backend = backend_for(fake, kind)
    cancel = asyncio.Event()
    got: list[str] = []
    try:
        async for chunk in backend.stream(REQUEST, cancel=cancel):
            got.append(chunk)
            if len(got) == 2:
                cancelled_at = time.monotonic()
                cancel.set()
        assert len(got) == 2  # nothing is read after the cancel
        assert await until(lambda: fake.completions()[-1].disconnected_at is not None, 2)
        seen = fake.completions()[-1].disconnected_at
        assert seen is not None and seen - cancelled_at < 0.1
        assert fake.completions()[-1].pieces_sent < 10
    finally:
        await backend.aclose()


async def test_cancel_while_waiting_for_the_first_token(any_fake: Any) -> None:
    kind, fake = any_fake
    fake.first_delay = 5.0
    backend = backend_for(fake, kind)
    cancel = asyncio.Event()
    try:
        task = asyncio.ensure_future(collect(backend, cancel=cancel))
        assert await until(lambda: bool(fake.completions()), 2)
        await asyncio.sleep(0.05)  # let the request reach the server's wait
        cancelled_at = time.monotonic()
        cancel.set()
        assert await asyncio.wait_for(task, 1) == ""
        assert await until(lambda: fake.completions()[-1].disconnected_at is not None, 2)
        seen = fake.completions()[-1].disconnected_at
        assert seen is not None and seen - cancelled_at < 0.1
    finally:
        await backend.aclose()


async def test_task_cancellation_also_disconnects(any_fake: Any) -> None:
    kind, fake = any_fake
    fake.tokens = ["a"] * 100
    fake.delay = 0.02
    backend = backend_for(fake, kind)
    try:
        task = asyncio.ensure_future(collect(backend))
        assert await until(lambda: bool(fake.completions()), 2)
        await asyncio.sleep(0.05)
        task.cancel()
        cancelled_at = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await until(lambda: fake.completions()[-1].disconnected_at is not None, 2)
        seen = fake.completions()[-1].disconnected_at
        assert seen is not None and seen - cancelled_at < 0.1
    finally:
        await backend.aclose()


async def test_first_chunk_timeout(any_fake: Any) -> None:
    kind, fake = any_fake
    fake.first_delay = 3.0
    backend = backend_for(fake, kind, timeout={"first_chunk": 200})
    try:
        with pytest.raises(FirstChunkTimeout, match=r"timeout\.first_chunk"):
            await collect(backend)
    finally:
        await backend.aclose()


async def test_total_timeout_stops_a_stream_that_never_ends(any_fake: Any) -> None:
    kind, fake = any_fake
    fake.tokens = ["a"] * 3
    fake.delay = 0.01
    fake.hang_after_tokens = True
    backend = backend_for(fake, kind, timeout={"total": 300})
    try:
        with pytest.raises(TotalTimeout, match=r"timeout\.total"):
            await collect(backend)
    finally:
        await backend.aclose()


async def test_unreachable_names_the_endpoint() -> None:
    with OllamaFake() as fake:
        url = fake.url
    backend = create_backend(parse_config({"endpoint": url}).config)
    try:
        with pytest.raises(Unreachable, match=url.replace(".", r"\.")):
            await collect(backend)
        probe = await backend.probe()
        assert not probe.reachable and url in probe.detail
    finally:
        await backend.aclose()


@pytest.mark.parametrize(("status", "error"), [(500, ServerError), (503, ServerBusy),
                                                (429, ServerBusy)])
async def test_http_errors_are_typed_with_the_servers_message(
    any_fake: Any, status: int, error: type[Exception]
) -> None:
    kind, fake = any_fake
    for path in fake.completion_paths:
        fake.override(path, Reply.json({"error": {"message": "CUDA out of memory"}}, status))
    backend = backend_for(fake, kind)
    try:
        with pytest.raises(error) as info:
            await collect(backend)
        if status == 500:
            assert "CUDA out of memory" in str(info.value)
        assert "Traceback" not in str(info.value)
    finally:
        await backend.aclose()


async def test_auth_failure_never_echoes_the_key(any_fake: Any) -> None:
    kind, fake = any_fake
    fake.api_key = "the-right-key"
    backend = backend_for(fake, kind, api_key_env="TEST_KEY")
    try:
        with pytest.raises(AuthFailed) as info:
            await collect(backend)
        assert "sk-canary-123" not in str(info.value)
        assert "api_key_env" in str(info.value)
    finally:
        await backend.aclose()
    assert fake.recorded()[-1].headers["authorization"] == "Bearer sk-canary-123"


async def test_malformed_line_is_shown_cut_to_200_chars(any_fake: Any) -> None:
    kind, fake = any_fake
    junk = "{not json" + "x" * 500
    framed = (junk + "\n").encode() if kind == "ollama" else b"data: " + junk.encode() + b"\n\n"
    for path in fake.completion_paths:
        fake.override(path, Reply(200, "text/event-stream", [Piece(framed)]))
    backend = backend_for(fake, kind)
    try:
        with pytest.raises(MalformedStream) as info:
            await collect(backend)
        assert "{not json" in str(info.value)
        assert len(str(info.value)) < 300
    finally:
        await backend.aclose()


# --- Ollama ---------------------------------------------------------------------------

async def test_ollama_request_body(ollama_fake: OllamaFake) -> None:
    backend = backend_for(ollama_fake, "ollama", ollama={"keep_alive": "1h"})
    try:
        await collect(backend)
    finally:
        await backend.aclose()
    body = ollama_fake.completions()[0].body
    assert body["raw"] is True and body["think"] is False and body["stream"] is True
    assert body["keep_alive"] == "1h"
    assert body["model"] == "qwen2.5-coder:1.5b-base"
    assert body["prompt"] == "<|fim_prefix|>def f(<|fim_suffix|>)\n<|fim_middle|>"
    assert "suffix" not in body
    assert body["options"] == {"num_predict": 64, "temperature": 0.1, "stop": list(QWEN.stop)}


async def test_ollama_error_line_mid_stream(ollama_fake: OllamaFake) -> None:
    ollama_fake.override("/api/generate", Reply(200, "application/x-ndjson", [
        Piece(b'{"response":"a","done":false}\n'),
        Piece(b'{"error":"an error was encountered while running the model"}\n')]))
    backend = backend_for(ollama_fake, "ollama")
    try:
        with pytest.raises(ServerError, match="while running the model"):
            await collect(backend)
    finally:
        await backend.aclose()


async def test_ollama_final_line_text_is_kept(ollama_fake: OllamaFake) -> None:
    ollama_fake.override("/api/generate", Reply(200, "application/x-ndjson", [
        Piece(b'{"response":"a","done":false}\n{"response":"b","done":true}\n')]))
    backend = backend_for(ollama_fake, "ollama")
    try:
        assert await collect(backend) == "ab"
    finally:
        await backend.aclose()


async def test_ollama_stream_without_final_line_is_an_error(ollama_fake: OllamaFake) -> None:
    ollama_fake.override("/api/generate", Reply(200, "application/x-ndjson", [
        Piece(b'{"response":"a","done":false}\n')]))
    backend = backend_for(ollama_fake, "ollama")
    try:
        with pytest.raises(ServerError, match="ended before"):
            await collect(backend)
    finally:
        await backend.aclose()


async def test_ollama_model_check_compares_like_ollama() -> None:
    with OllamaFake(models=["qwen2.5-coder:1.5b-base", "starcoder2:latest"]) as fake:
        backend = backend_for(fake, "ollama")
        try:
            assert (await backend.check_model("starcoder2")).status == "present"
            assert (await backend.check_model("qwen2.5-coder:1.5b-base")).status == "present"
            missing = await backend.check_model("qwen2.5-coder")
            assert missing.status == "missing"
            assert "ollama pull qwen2.5-coder" in missing.message
            assert "starcoder2:latest" in missing.available
        finally:
            await backend.aclose()


async def test_ollama_model_missing_on_generate(ollama_fake: OllamaFake) -> None:
    backend = backend_for(ollama_fake, "ollama", model="nope:7b")
    try:
        with pytest.raises(ModelMissing, match="nope:7b"):
            await collect(backend)
    finally:
        await backend.aclose()


async def test_ollama_pull_reports_progress(ollama_fake: OllamaFake) -> None:
    backend = backend_for(ollama_fake, "ollama")
    seen: list[PullProgress] = []
    try:
        await backend.pull_model("codellama:7b-code", seen.append)
        assert (await backend.check_model("codellama:7b-code")).status == "present"
    finally:
        await backend.aclose()
    percents = [p.percent for p in seen if p.percent is not None]
    assert percents == [25, 50, 75, 100]
    assert seen[-1].status == "success"


async def test_ollama_pull_error_line(ollama_fake: OllamaFake) -> None:
    ollama_fake.override("/api/pull", Reply(200, "application/x-ndjson", [
        Piece(b'{"status":"pulling manifest"}\n'),
        Piece(b'{"error":"pull model manifest: file does not exist"}\n')]))
    backend = backend_for(ollama_fake, "ollama")
    try:
        with pytest.raises(ServerError, match="file does not exist"):
            await backend.pull_model("nope", lambda p: None)
    finally:
        await backend.aclose()


# --- OpenAI-compatible and vLLM -------------------------------------------------------

async def test_openai_sends_at_most_four_stop_strings(openai_fake: OpenAIFake) -> None:
    backend = backend_for(openai_fake, "openai")
    try:
        await collect(backend)
    finally:
        await backend.aclose()
    body = openai_fake.completions()[0].body
    assert body["stop"] == list(QWEN.stop[:4])
    assert body["prompt"] == REQUEST.client_prompt()
    assert body["max_tokens"] == 64 and "suffix" not in body


async def test_openai_can_send_suffix(openai_fake: OpenAIFake) -> None:
    backend = backend_for(openai_fake, "openai", openai={"send_suffix": True})
    try:
        await collect(backend)
    finally:
        await backend.aclose()
    body = openai_fake.completions()[0].body
    assert (body["prompt"], body["suffix"]) == ("def f(", ")\n")


async def test_openai_endpoint_with_v1_path(openai_fake: OpenAIFake) -> None:
    backend = backend_for(openai_fake, "openai", endpoint=openai_fake.url + "/v1/")
    try:
        assert await collect(backend) == "x = 1"
    finally:
        await backend.aclose()


async def test_openai_model_check_and_resolution(openai_fake: OpenAIFake) -> None:
    backend = backend_for(openai_fake, "openai", model="gpt-nope")
    try:
        check = await backend.check_model()
        assert check.status == "missing" and "Qwen/Qwen2.5-Coder-1.5B" in check.message
        with pytest.raises(ModelMissing):
            await collect(backend)
        with pytest.raises(Unsupported, match="cannot download"):
            await backend.pull_model("x", lambda p: None)
    finally:
        await backend.aclose()


async def test_vllm_body_rules(vllm_fake: OpenAIFake) -> None:
    backend = backend_for(vllm_fake, "vllm", openai={"send_suffix": True})
    try:
        assert await collect(backend) == "x = 1"  # model resolved from /v1/models
        assert (await backend.probe()).reachable
    finally:
        await backend.aclose()
    body = vllm_fake.completions()[0].body
    assert "suffix" not in body
    assert body["skip_special_tokens"] is False
    assert body["max_tokens"] == 64
    assert body["stop"] == list(QWEN.stop)  # no limit on vLLM
    assert body["model"] == "Qwen/Qwen2.5-Coder-1.5B"


@pytest.mark.parametrize("shape", ["nested", "flat"])
async def test_vllm_both_error_shapes(vllm_fake: OpenAIFake, shape: str) -> None:
    body = ({"error": {"message": "max_tokens is too large", "type": "BadRequestError",
                       "code": 400}} if shape == "nested"
            else {"object": "error", "message": "max_tokens is too large", "code": 400})
    vllm_fake.override("/v1/completions", Reply.json(body, 400))
    backend = backend_for(vllm_fake, "vllm", model="Qwen/Qwen2.5-Coder-1.5B")
    try:
        with pytest.raises(Exception, match="max_tokens is too large"):
            await collect(backend)
    finally:
        await backend.aclose()


async def test_vllm_streamed_error_then_done(vllm_fake: OpenAIFake) -> None:
    vllm_fake.override("/v1/completions", Reply(200, "text/event-stream", [
        Piece(sse({"choices": [{"text": "a", "index": 0, "finish_reason": None}]})),
        Piece(sse({"error": {"message": "engine died", "code": 500}})),
        Piece(b"data: [DONE]\n\n")]))
    backend = backend_for(vllm_fake, "vllm", model="Qwen/Qwen2.5-Coder-1.5B")
    try:
        with pytest.raises(ServerError, match="engine died"):
            await collect(backend)
    finally:
        await backend.aclose()


# --- llama.cpp ------------------------------------------------------------------------

async def test_llamacpp_infill_body_and_stats(llamacpp_fake: LlamaCppFake) -> None:
    llamacpp_fake.cached_tokens = 7
    backend = backend_for(llamacpp_fake, "llamacpp", llamacpp={"t_max_predict_ms": 700})
    request = Request(prefix="    ", suffix="", template=QWEN, max_tokens=32, temperature=0,
                      stop=QWEN.stop, extra_context=(("b.py", "import os\n"),), indent=4)
    stats = StreamStats()
    try:
        assert await collect(backend, request, stats=stats) == "x = 1"
    finally:
        await backend.aclose()
    body = llamacpp_fake.completions()[0].body
    assert llamacpp_fake.completions()[0].path == "/infill"
    assert body["input_prefix"] == "    " and body["input_suffix"] == ""
    assert body["input_extra"] == [{"filename": "b.py", "text": "import os\n"}]
    assert body["n_predict"] == 32 and body["t_max_predict_ms"] == 700
    assert body["cache_prompt"] is True and body["n_indent"] == 4
    assert (stats.route, stats.cached_tokens, stats.prompt_tokens) == ("/infill", 7, 3)


async def test_llamacpp_501_falls_back_once_per_model() -> None:
    with LlamaCppFake(fim=False) as fake:
        backend = backend_for(fake, "llamacpp")
        try:
            assert await collect(backend) == "x = 1"
            assert await collect(backend) == "x = 1"
        finally:
            await backend.aclose()
        paths = [r.path for r in fake.completions()]
        assert paths == ["/infill", "/completion", "/completion"]
        assert fake.completions()[1].body["prompt"] == REQUEST.client_prompt()


async def test_llamacpp_prefix_only_template_skips_infill(llamacpp_fake: LlamaCppFake) -> None:
    prefix_only = BUILTIN_TEMPLATES["prefix-only"]
    request = Request("a = ", "", prefix_only, 8, 0.0, (), allow_server_fim=False)
    backend = backend_for(llamacpp_fake, "llamacpp")
    try:
        await collect(backend, request)
    finally:
        await backend.aclose()
    assert [r.path for r in llamacpp_fake.completions()] == ["/completion"]
    assert llamacpp_fake.completions()[0].body["prompt"] == "a = "


async def test_llamacpp_loading_is_not_down(llamacpp_fake: LlamaCppFake) -> None:
    llamacpp_fake.loading = True
    backend = backend_for(llamacpp_fake, "llamacpp")
    try:
        probe = await backend.probe()
        assert probe.reachable and probe.detail == "loading"
    finally:
        await backend.aclose()


async def test_llamacpp_model_check(llamacpp_fake: LlamaCppFake) -> None:
    backend = backend_for(llamacpp_fake, "llamacpp")
    try:
        assert (await backend.check_model()).status == "present"
        assert (await backend.check_model("qwen2.5-coder-1.5b")).status == "present"
        missing = await backend.check_model("codellama-7b")
        assert missing.status == "missing" and "llama-server -m" in missing.message
    finally:
        await backend.aclose()


async def test_llamacpp_error_event_mid_stream(llamacpp_fake: LlamaCppFake) -> None:
    llamacpp_fake.override("/infill", Reply(200, "text/event-stream", [
        Piece(sse({"content": "a", "stop": False})),
        Piece(b'error: {"code":500,"message":"slot unavailable"}\n\n')]))
    backend = backend_for(llamacpp_fake, "llamacpp")
    try:
        with pytest.raises(ServerError, match="slot unavailable"):
            await collect(backend)
    finally:
        await backend.aclose()


async def test_llamacpp_model_check_falls_back_to_props(llamacpp_fake: LlamaCppFake) -> None:
    llamacpp_fake.override("/v1/models", Reply.json({"error": "File Not Found"}, 404))
    backend = backend_for(llamacpp_fake, "llamacpp")
    try:
        check = await backend.check_model()
        assert check.status == "present"
        assert check.model == "/models/qwen2.5-coder-1.5b-q8_0.gguf"
    finally:
        await backend.aclose()


async def test_who_builds_the_fim_prompt() -> None:
    with LlamaCppFake(fim=False) as fake:
        backend = backend_for(fake, "llamacpp")
        try:
            assert backend.fim_side(True) == "server (llama.cpp /infill)"
            assert backend.fim_side(False) == "client"
            await collect(backend)  # /infill answers 501: remembered
            assert backend.fim_side(True) == "client"
        finally:
            await backend.aclose()
    for kind, expected in (("openai", "server (suffix)"), ("vllm", "client"),
                           ("ollama", "client")):
        with OpenAIFake() as other:
            b = backend_for(other, kind, openai={"send_suffix": True})
            assert b.fim_side(True) == expected, kind
            await b.aclose()
