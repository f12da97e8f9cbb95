"""The four backends against real HTTP protocol fakes on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from llama_coder.backends import http
from llama_coder.backends.base import Backend, PullProgress, StreamStats
from llama_coder.backends.registry import create_backend
from llama_coder.core.completion import Request, plan
from llama_coder.core.config import parse_config
from llama_coder.core.errors import (
    AuthFailed,
    BadRequest,
    DownloadStalled,
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
from llama_coder.core.prompt import Snapshot
from tests.fakes.backends import LlamaCppFake, OllamaFake, OpenAIFake, ProtocolFake, sse
from tests.fakes.server import Piece, Reply, until

QWEN = BUILTIN_TEMPLATES["qwen"]
REQUEST = Request(prefix="def f(", suffix=")\n", template=QWEN, max_tokens=64,
                  temperature=0.1, stop=QWEN.stop)
# Long enough that a test which sees the connection end before it knows the client
# closed it (a cancel), not that the server finished.
NEVER = 30.0

MakeBackend = Callable[..., Backend]


@pytest.fixture
async def make_backend() -> AsyncIterator[MakeBackend]:
    """``make_backend(fake, kind, **options)``: a backend for ``fake`` with those options
    (validated like setup()); every one made is closed after the test."""
    made: list[Backend] = []

    def make(fake: ProtocolFake, kind: str, **options: Any) -> Backend:
        raw: dict[str, Any] = {"backend": kind, "endpoint": fake.url, **options}
        if kind == "openai":
            raw.setdefault("model", "Qwen/Qwen2.5-Coder-1.5B")
        result = parse_config(raw)
        assert result.problems == []
        backend = create_backend(result.config, environ={"TEST_KEY": "sk-canary-123"})
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


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


async def test_stream_yields_tokens(any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    fake.tokens = ["x", "é😀", ")"]
    assert await collect(make_backend(fake, kind)) == "xé😀)"


def stop_sent(kind: str, body: dict[str, Any]) -> list[str]:
    """The stop strings a body asks the server to stop at."""
    stop: list[str] = (body["options"] if kind == "ollama" else body)["stop"]
    return stop


@pytest.mark.parametrize("max_stop", [1, 4])
async def test_a_mid_line_request_asks_every_server_to_stop_at_the_newline(
        any_fake: Any, make_backend: MakeBackend, max_stop: int) -> None:
    kind, fake = any_fake
    config = parse_config({"backend": kind, "endpoint": fake.url}).config
    mid_line = plan(Snapshot(["x = total(a) + 1"], 0, 0, 4, "a.py", "python"), config, QWEN)
    block = plan(Snapshot(["def f(x):", "    "], 0, 1, 4, "a.py", "python"), config, QWEN)
    backend = make_backend(fake, kind, openai={"max_stop": max_stop})
    await collect(backend, mid_line.request)
    await collect(backend, block.request)
    asked, block_asked = (stop_sent(kind, r.body) for r in fake.completions())
    assert asked[0] == "\n"  # first, so servers that take few stop strings get it
    assert len(asked) == (max_stop if kind == "openai" else len(QWEN.stop) + 1)
    assert "\n" not in block_asked


async def test_one_connection_is_reused(any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    backend = make_backend(fake, kind)
    await collect(backend)
    await collect(backend)
    peers = {r.peer for r in fake.completions()}
    assert len(fake.completions()) == 2 and len(peers) == 1


async def test_a_complete_answer_does_not_wait_for_the_body_to_end(
        any_fake: Any, make_backend: MakeBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    kind, fake = any_fake
    fake.hold_body_open = True  # the final marker arrives, the body's end never does
    monkeypatch.setattr(http, "DRAIN_SECONDS", 60.0)  # reading the rest would take "forever"
    backend = make_backend(fake, kind)
    assert await asyncio.wait_for(collect(backend), 10) == "x = 1"
    request = fake.completions()[0]
    assert request.finished_at is None and request.disconnected_at is None
    assert backend.http.open_connections() == 1  # still draining in the background
    await backend.aclose()
    assert fake.wait_for(lambda: fake.completions()[0].disconnected_at is not None)
    assert backend.http.open_connections() == 0


async def test_no_connection_stays_held_after_answers_errors_and_cancels(
        any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    backend = make_backend(fake, kind)
    await collect(backend)
    for path in fake.completion_paths:
        fake.override(path, Reply.json({"error": {"message": "boom"}}, 500))
    with pytest.raises(ServerError):
        await collect(backend)
    cancel = asyncio.Event()
    async for _ in backend.stream(REQUEST, cancel=cancel):
        cancel.set()
    assert await until(lambda: backend.http.open_connections() == 0)


@pytest.mark.parametrize("then", ["stream", "model check"])
async def test_stale_keep_alive_connection_is_retried_once(
        any_fake: Any, make_backend: MakeBackend, then: str) -> None:
    kind, fake = any_fake
    backend = make_backend(fake, kind)
    assert await collect(backend) == "x = 1"
    fake.drop_reused_once = True  # the server closed the kept connection meanwhile
    if then == "stream":
        assert await collect(backend) == "x = 1"
        assert len({r.peer for r in fake.completions()}) == 2
    else:
        assert (await backend.check_model()).status == "present"


async def test_cancel_closes_the_connection_and_reads_nothing_more(
        any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    fake.tokens = ["a", "b"] + ["c"] * 10
    fake.token_delays = {2: NEVER}  # the third token would come much later
    backend = make_backend(fake, kind)
    cancel = asyncio.Event()
    got: list[str] = []
    async for chunk in backend.stream(REQUEST, cancel=cancel):
        got.append(chunk)
        if len(got) == 2:
            cancel.set()
    assert got == ["a", "b"]  # nothing is read after the cancel
    assert await until(lambda: fake.completions()[-1].disconnected_at is not None)
    assert fake.completions()[-1].pieces_sent == 2


@pytest.mark.parametrize("how", ["event", "task"])
async def test_cancel_while_waiting_for_the_first_token(
        any_fake: Any, make_backend: MakeBackend, how: str) -> None:
    kind, fake = any_fake
    fake.first_delay = NEVER
    backend = make_backend(fake, kind)
    cancel = asyncio.Event()
    task = asyncio.ensure_future(collect(backend, cancel=cancel))
    # The server is in its wait before the first token.
    assert await until(lambda: bool(fake.completions())
                       and fake.completions()[-1].replying_at is not None)
    if how == "event":
        cancel.set()
        assert await asyncio.wait_for(task, NEVER / 2) == ""
    else:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert await until(lambda: fake.completions()[-1].disconnected_at is not None)
    assert fake.completions()[-1].pieces_sent == 0


async def test_task_cancellation_mid_stream_also_disconnects(
        any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    fake.tokens = ["a"] * 5
    fake.token_delays = {3: NEVER}
    backend = make_backend(fake, kind)
    got: list[str] = []

    async def read() -> None:
        async for chunk in backend.stream(REQUEST):
            got.append(chunk)

    task = asyncio.ensure_future(read())
    assert await until(lambda: len(got) == 3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await until(lambda: fake.completions()[-1].disconnected_at is not None)
    assert fake.completions()[-1].pieces_sent == 3


async def test_first_chunk_timeout(any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    fake.first_delay = NEVER
    backend = make_backend(fake, kind, timeout={"first_chunk": 200})
    with pytest.raises(FirstChunkTimeout, match=r"timeout\.first_chunk"):
        await collect(backend)


async def test_total_timeout_stops_a_stream_that_never_ends(
        any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    fake.tokens = ["a"] * 3
    fake.hang_after_tokens = True
    backend = make_backend(fake, kind, timeout={"total": 300})
    with pytest.raises(TotalTimeout, match=r"timeout\.total"):
        await collect(backend)


async def test_unreachable_names_the_endpoint(make_backend: MakeBackend) -> None:
    with OllamaFake() as fake:
        url = fake.url
    backend = make_backend(fake, "ollama")  # the port is closed now
    with pytest.raises(Unreachable, match=url.replace(".", r"\.")):
        await collect(backend)
    probe = await backend.probe()
    assert not probe.reachable and url in probe.detail


@pytest.mark.parametrize(("status", "error"), [(500, ServerError), (503, ServerBusy),
                                                (429, ServerBusy)])
async def test_http_errors_are_typed_with_the_servers_message(
    any_fake: Any, make_backend: MakeBackend, status: int, error: type[Exception]
) -> None:
    kind, fake = any_fake
    for path in fake.completion_paths:
        fake.override(path, Reply.json({"error": {"message": "CUDA out of memory"}}, status))
    with pytest.raises(error) as info:
        await collect(make_backend(fake, kind))
    assert "CUDA out of memory" in str(info.value)
    assert "Traceback" not in str(info.value)


async def test_auth_failure_never_echoes_the_key(any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    fake.api_key = "the-right-key"
    with pytest.raises(AuthFailed) as info:
        await collect(make_backend(fake, kind, api_key_env="TEST_KEY"))
    assert "sk-canary-123" not in str(info.value)
    assert "api_key_env" in str(info.value)
    assert fake.recorded()[-1].headers["authorization"] == "Bearer sk-canary-123"


async def test_malformed_line_is_shown_cut_to_200_chars(
        any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    junk = "{not json" + "x" * 500
    framed = (junk + "\n").encode() if kind == "ollama" else b"data: " + junk.encode() + b"\n\n"
    for path in fake.completion_paths:
        fake.override(path, Reply(200, "text/event-stream", [Piece(framed)]))
    with pytest.raises(MalformedStream) as info:
        await collect(make_backend(fake, kind))
    assert "{not json" in str(info.value)
    assert len(str(info.value)) < 300


async def test_probe_times_one_request(any_fake: Any, make_backend: MakeBackend) -> None:
    kind, fake = any_fake
    probe = await make_backend(fake, kind).probe()
    assert probe.reachable and probe.detail.startswith("ok") and probe.latency_ms > 0
    assert len(fake.recorded()) == 1


# --- Ollama ---------------------------------------------------------------------------

async def test_ollama_request_body(ollama_fake: OllamaFake, make_backend: MakeBackend) -> None:
    await collect(make_backend(ollama_fake, "ollama", ollama={"keep_alive": "1h"}))
    body = ollama_fake.completions()[0].body
    assert body["raw"] is True and body["think"] is False and body["stream"] is True
    assert body["keep_alive"] == "1h"
    assert body["model"] == "qwen2.5-coder:1.5b-base"
    assert body["prompt"] == "<|fim_prefix|>def f(<|fim_suffix|>)\n<|fim_middle|>"
    assert "suffix" not in body
    assert body["options"] == {"num_predict": 64, "temperature": 0.1, "stop": list(QWEN.stop)}


@pytest.mark.parametrize(("given", "sent"), [
    ("-1", -1), (-1, -1), ("0", 0), ("300", 300), ("-1m", "-1m"), ("1h30m", "1h30m"),
])
async def test_ollama_keep_alive_is_sent_as_ollama_parses_it(
        ollama_fake: OllamaFake, make_backend: MakeBackend, given: object, sent: object) -> None:
    backend = make_backend(ollama_fake, "ollama", ollama={"keep_alive": given})
    assert await collect(backend) == "x = 1"  # the fake refuses what Ollama refuses
    assert ollama_fake.completions()[0].body["keep_alive"] == sent


@pytest.mark.parametrize(("keep_alive", "error"), [
    ("-1", 'time: missing unit in duration "-1"'),
    ("5 m", 'time: unknown unit " m" in duration "5 m"'),
    ("forever", 'time: invalid duration "forever"'),
    (True, "Unsupported type: 'bool'"),
])
async def test_the_ollama_fake_refuses_keep_alive_as_ollama_does(
        ollama_fake: OllamaFake, make_backend: MakeBackend, keep_alive: object,
        error: str) -> None:
    """What Ollama answers to a keep_alive its Go code cannot decode: 400 and its error."""
    backend = make_backend(ollama_fake, "ollama")
    body = {**backend.body(REQUEST), "keep_alive": keep_alive}  # type: ignore[attr-defined]
    with pytest.raises(BadRequest) as info:
        async for _ in backend.stream_texts("/api/generate", lambda: body, None, None):
            pass
    assert str(info.value) == f"the server rejected the request (400): {error}"


@pytest.mark.parametrize(("lines", "outcome"), [
    ([b'{"response":"a","done":false}\n',
      b'{"error":"an error was encountered while running the model"}\n'],
     (ServerError, "Ollama reported an error: an error was encountered while running")),
    ([b'{"response":"a","done":false}\n{"response":"b","done":true}\n'], "ab"),
    ([b'{"response":"a","done":false}\n'], (ServerError, "ended before its end marker")),
    ([b'{"error":"model \'qwen2.5-coder:1.5b-base\' not found"}\n'],
     (ModelMissing, "not found")),
])
async def test_ollama_stream_lines(ollama_fake: OllamaFake, make_backend: MakeBackend,
                                   lines: list[bytes], outcome: Any) -> None:
    """An error line mid-stream, text on the final line, a stream without its final
    line, a missing model reported inside the stream."""
    ollama_fake.override("/api/generate", Reply(200, "application/x-ndjson",
                                                 [Piece(line) for line in lines]))
    backend = make_backend(ollama_fake, "ollama")
    if isinstance(outcome, str):
        assert await collect(backend) == outcome
    else:
        error, fragment = outcome
        with pytest.raises(error, match=fragment):
            await collect(backend)


async def test_ollama_model_check_compares_like_ollama(make_backend: MakeBackend) -> None:
    with OllamaFake(models=["qwen2.5-coder:1.5b-base", "starcoder2:latest"]) as fake:
        backend = make_backend(fake, "ollama")
        assert (await backend.check_model("starcoder2")).status == "present"
        assert (await backend.check_model("qwen2.5-coder:1.5b-base")).status == "present"
        missing = await backend.check_model("qwen2.5-coder")
        assert missing.status == "missing"
        assert "ollama pull qwen2.5-coder" in missing.message
        assert "starcoder2:latest" in missing.available


async def test_ollama_model_missing_on_generate(
        ollama_fake: OllamaFake, make_backend: MakeBackend) -> None:
    with pytest.raises(ModelMissing, match="nope:7b"):
        await collect(make_backend(ollama_fake, "ollama", model="nope:7b"))


async def test_ollama_pull_reports_progress(
        ollama_fake: OllamaFake, make_backend: MakeBackend) -> None:
    backend = make_backend(ollama_fake, "ollama")
    seen: list[PullProgress] = []
    await backend.pull_model("codellama:7b-code", seen.append)
    assert (await backend.check_model("codellama:7b-code")).status == "present"
    percents = [p.percent for p in seen if p.percent is not None]
    assert percents == [25, 50, 75, 100]
    assert seen[-1].status == "success"


async def test_a_download_slower_than_timeout_total_goes_on_while_it_progresses(
        ollama_fake: OllamaFake, make_backend: MakeBackend) -> None:
    ollama_fake.pull_steps = 8
    ollama_fake.pull_delay = 0.1  # 11 lines, 1.1 s in all: far beyond timeout.total
    backend = make_backend(ollama_fake, "ollama", timeout={"total": 200, "first_chunk": 100,
                                                           "pull_idle": 1000})
    seen: list[PullProgress] = []
    await backend.pull_model("codellama:7b-code", seen.append)
    assert seen[-1].status == "success"
    assert ollama_fake.recorded("/api/pull")[0].finished_at is not None


@pytest.mark.parametrize("stall", ["repeat", "silent"])
async def test_a_download_without_progress_fails_naming_the_download(
        ollama_fake: OllamaFake, make_backend: MakeBackend, stall: str) -> None:
    """Stuck: Ollama repeats the same progress line (no byte arrives), or says nothing."""
    ollama_fake.pull_stall_after = 2
    ollama_fake.pull_stall = stall
    backend = make_backend(ollama_fake, "ollama", timeout={"pull_idle": 300})
    seen: list[PullProgress] = []
    with pytest.raises(DownloadStalled) as info:
        await backend.pull_model("codellama:7b-code", seen.append)
    assert str(info.value) == (
        "the download of codellama:7b-code stalled: no progress for 0.3 s "
        "(timeout.pull_idle); downloading again resumes where it stopped")
    assert [p.percent for p in seen if p.percent is not None][:2] == [25, 50]
    assert await until(lambda: ollama_fake.recorded("/api/pull")[0].disconnected_at is not None)
    assert "codellama:7b-code" not in ollama_fake.models


async def test_ollama_pull_error_line(ollama_fake: OllamaFake, make_backend: MakeBackend) -> None:
    ollama_fake.override("/api/pull", Reply(200, "application/x-ndjson", [
        Piece(b'{"status":"pulling manifest"}\n'),
        Piece(b'{"error":"pull model manifest: file does not exist"}\n')]))
    with pytest.raises(ServerError, match=r"could not download nope: .*file does not exist"):
        await make_backend(ollama_fake, "ollama").pull_model("nope", lambda p: None)


# --- OpenAI-compatible and vLLM -------------------------------------------------------

async def test_openai_sends_at_most_four_stop_strings(
        openai_fake: OpenAIFake, make_backend: MakeBackend) -> None:
    await collect(make_backend(openai_fake, "openai"))
    body = openai_fake.completions()[0].body
    assert body["stop"] == list(QWEN.stop[:4])
    assert body["prompt"] == REQUEST.client_prompt()
    assert body["max_tokens"] == 64 and "suffix" not in body


async def test_openai_can_send_suffix(openai_fake: OpenAIFake, make_backend: MakeBackend) -> None:
    await collect(make_backend(openai_fake, "openai", openai={"send_suffix": True}))
    body = openai_fake.completions()[0].body
    assert (body["prompt"], body["suffix"]) == ("def f(", ")\n")


async def test_openai_endpoint_with_v1_path(
        openai_fake: OpenAIFake, make_backend: MakeBackend) -> None:
    backend = make_backend(openai_fake, "openai", endpoint=openai_fake.url + "/v1/")
    assert await collect(backend) == "x = 1"
    assert (await backend.probe()).reachable
    assert {r.path for r in openai_fake.recorded()} == {"/v1/completions", "/v1/models"}


async def test_openai_model_check_and_resolution(
        openai_fake: OpenAIFake, make_backend: MakeBackend) -> None:
    backend = make_backend(openai_fake, "openai", model="gpt-nope")
    check = await backend.check_model()
    assert check.status == "missing" and "Qwen/Qwen2.5-Coder-1.5B" in check.message
    with pytest.raises(ModelMissing):
        await collect(backend)
    with pytest.raises(Unsupported, match="cannot download"):
        await backend.pull_model("x", lambda p: None)


async def test_vllm_body_rules(vllm_fake: OpenAIFake, make_backend: MakeBackend) -> None:
    backend = make_backend(vllm_fake, "vllm", openai={"send_suffix": True})
    assert await collect(backend) == "x = 1"  # model resolved from /v1/models
    assert backend.served_model == "Qwen/Qwen2.5-Coder-1.5B"
    body = vllm_fake.completions()[0].body
    assert "suffix" not in body
    assert body["skip_special_tokens"] is False
    assert body["max_tokens"] == 64
    assert body["stop"] == list(QWEN.stop)  # no limit on vLLM
    assert body["model"] == "Qwen/Qwen2.5-Coder-1.5B"


@pytest.mark.parametrize("shape", ["nested", "flat"])
async def test_vllm_both_error_shapes(
        vllm_fake: OpenAIFake, make_backend: MakeBackend, shape: str) -> None:
    body = ({"error": {"message": "max_tokens is too large", "type": "BadRequestError",
                       "code": 400}} if shape == "nested"
            else {"object": "error", "message": "max_tokens is too large", "code": 400})
    vllm_fake.override("/v1/completions", Reply.json(body, 400))
    with pytest.raises(BadRequest, match="max_tokens is too large"):
        await collect(make_backend(vllm_fake, "vllm", model="Qwen/Qwen2.5-Coder-1.5B"))


async def test_vllm_streamed_error_then_done(
        vllm_fake: OpenAIFake, make_backend: MakeBackend) -> None:
    vllm_fake.override("/v1/completions", Reply(200, "text/event-stream", [
        Piece(sse({"choices": [{"text": "a", "index": 0, "finish_reason": None}]})),
        Piece(sse({"error": {"message": "engine died", "code": 500}})),
        Piece(b"data: [DONE]\n\n")]))
    with pytest.raises(ServerError, match="vLLM reported an error: engine died"):
        await collect(make_backend(vllm_fake, "vllm", model="Qwen/Qwen2.5-Coder-1.5B"))


@pytest.mark.parametrize(("healthy", "reachable", "detail"), [
    (True, True, "ok"), (False, False, "/health answered 503 (is the engine down?)")])
async def test_vllm_probe_reads_health(vllm_fake: OpenAIFake, make_backend: MakeBackend,
                                       healthy: bool, reachable: bool, detail: str) -> None:
    if not healthy:
        vllm_fake.override("/health", Reply(503, "text/plain", []))
    probe = await make_backend(vllm_fake, "vllm").probe()
    assert (probe.reachable, probe.detail) == (reachable, detail)


# --- llama.cpp ------------------------------------------------------------------------

async def test_llamacpp_infill_body_and_stats(
        llamacpp_fake: LlamaCppFake, make_backend: MakeBackend) -> None:
    llamacpp_fake.cached_tokens = 7
    backend = make_backend(llamacpp_fake, "llamacpp", llamacpp={"t_max_predict_ms": 700})
    request = Request(prefix="    ", suffix="", template=QWEN, max_tokens=32, temperature=0,
                      stop=QWEN.stop, extra_context=(("b.py", "import os\n"),), indent=4)
    stats = StreamStats()
    assert await collect(backend, request, stats=stats) == "x = 1"
    body = llamacpp_fake.completions()[0].body
    assert llamacpp_fake.completions()[0].path == "/infill"
    assert body["input_prefix"] == "    " and body["input_suffix"] == ""
    assert body["input_extra"] == [{"filename": "b.py", "text": "import os\n"}]
    assert body["n_predict"] == 32 and body["t_max_predict_ms"] == 700
    assert body["cache_prompt"] is True and body["n_indent"] == 4
    assert (stats.route, stats.cached_tokens, stats.prompt_tokens) == ("/infill", 7, 3)


async def test_llamacpp_501_falls_back_once_per_model(make_backend: MakeBackend) -> None:
    with LlamaCppFake(fim=False) as fake:
        backend = make_backend(fake, "llamacpp")
        stats = StreamStats()
        assert await collect(backend, stats=stats) == "x = 1"
        assert stats.route == "/completion"
        assert await collect(backend) == "x = 1"
        paths = [r.path for r in fake.completions()]
        assert paths == ["/infill", "/completion", "/completion"]
        assert fake.completions()[1].body["prompt"] == REQUEST.client_prompt()


async def test_llamacpp_prefix_only_template_skips_infill(
        llamacpp_fake: LlamaCppFake, make_backend: MakeBackend) -> None:
    prefix_only = BUILTIN_TEMPLATES["prefix-only"]
    request = Request("a = ", "", prefix_only, 8, 0.0, (), allow_server_fim=False)
    await collect(make_backend(llamacpp_fake, "llamacpp"), request)
    assert [r.path for r in llamacpp_fake.completions()] == ["/completion"]
    assert llamacpp_fake.completions()[0].body["prompt"] == "a = "


async def test_llamacpp_loading_is_not_down(
        llamacpp_fake: LlamaCppFake, make_backend: MakeBackend) -> None:
    llamacpp_fake.loading = True
    probe = await make_backend(llamacpp_fake, "llamacpp").probe()
    assert probe.reachable and probe.detail == "loading"


async def test_llamacpp_model_check(llamacpp_fake: LlamaCppFake, make_backend: MakeBackend) -> None:
    backend = make_backend(llamacpp_fake, "llamacpp")
    assert backend.model == ""
    assert (await backend.check_model()).status == "present"
    assert backend.model == "/models/qwen2.5-coder-1.5b-q8_0.gguf"  # the served one
    assert (await backend.check_model("qwen2.5-coder-1.5b")).status == "present"
    missing = await backend.check_model("codellama-7b")
    assert missing.status == "missing" and "llama-server -m" in missing.message


async def test_llamacpp_error_event_mid_stream(
        llamacpp_fake: LlamaCppFake, make_backend: MakeBackend) -> None:
    llamacpp_fake.override("/infill", Reply(200, "text/event-stream", [
        Piece(sse({"content": "a", "stop": False})),
        Piece(b'error: {"code":500,"message":"slot unavailable"}\n\n')]))
    with pytest.raises(ServerError, match="llama-server reported an error: slot unavailable"):
        await collect(make_backend(llamacpp_fake, "llamacpp"))


async def test_llamacpp_model_check_falls_back_to_props(
        llamacpp_fake: LlamaCppFake, make_backend: MakeBackend) -> None:
    llamacpp_fake.override("/v1/models", Reply.json({"error": "File Not Found"}, 404))
    check = await make_backend(llamacpp_fake, "llamacpp").check_model()
    assert check.status == "present"
    assert check.model == "/models/qwen2.5-coder-1.5b-q8_0.gguf"


async def test_who_builds_the_fim_prompt(make_backend: MakeBackend) -> None:
    with LlamaCppFake(fim=False) as fake:
        backend = make_backend(fake, "llamacpp")
        assert backend.fim_side(True) == "server (llama.cpp /infill)"
        assert backend.fim_side(False) == "client"
        await collect(backend)  # /infill answers 501: remembered
        assert backend.fim_side(True) == "client"
    with OpenAIFake() as other:
        for kind, expected in (("openai", "server (suffix)"), ("vllm", "client"),
                               ("ollama", "client")):
            b = make_backend(other, kind, openai={"send_suffix": True})
            assert b.fim_side(True) == expected, kind
