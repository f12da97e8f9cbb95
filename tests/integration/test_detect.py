"""backend = 'auto' over real HTTP: each server kind alone (the protocol fakes and a real
llama-server), nothing listening, a server that never answers, two at once, the user's
endpoint, an Ollama without a coder model, a server that wants an API key."""

from __future__ import annotations

import asyncio
import dataclasses
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from devtools import llama_server
from devtools.llama_server import free_port
from llama_coder.backends.ollama import DEFAULT_MODEL
from llama_coder.backends.registry import create_backend
from llama_coder.core import detection
from llama_coder.core.completion import Request
from llama_coder.core.config import parse_config
from llama_coder.core.detection import Candidate, Choice, Detection
from llama_coder.core.errors import BadRequest, ServerBusy, Unreachable
from llama_coder.core.fim import BUILTIN_TEMPLATES
from llama_coder.detect import AutoSetup, configured, detect, detect_for
from tests.fakes.backends import LlamaCppFake, OllamaFake, OpenAIFake, ProtocolFake
from tests.fakes.server import Reply

CONNECT_S = 0.5


def closed() -> Candidate:
    """An address where nothing listens."""
    return Candidate(f"http://127.0.0.1:{free_port()}")


def at(fake: ProtocolFake, explicit: bool = False) -> Candidate:
    return Candidate(fake.url, explicit)


@pytest.fixture
def lmstudio() -> Iterator[OpenAIFake]:
    with OpenAIFake(models=["text-embedding-nomic-embed-text-v1.5",
                            "qwen2.5-coder-7b-instruct", "qwen2.5-coder-7b"]) as fake:
        fake.owned_by = "organization_owner"
        yield fake


KINDS = {
    # fixture: (backend, model, format, label)
    "ollama_fake": ("ollama", DEFAULT_MODEL, "qwen", "Ollama"),
    "llamacpp_fake": ("llamacpp", "/models/qwen2.5-coder-1.5b-q8_0.gguf", "qwen", "llama-server"),
    "vllm_fake": ("vllm", "Qwen/Qwen2.5-Coder-1.5B", "qwen", "vLLM"),
    "lmstudio": ("openai", "qwen2.5-coder-7b", "qwen", "LM Studio"),
}


@pytest.mark.parametrize("name", KINDS)
async def test_each_kind_alone(name: str, request: pytest.FixtureRequest) -> None:
    fake: ProtocolFake = request.getfixturevalue(name)
    backend, model, fmt, label = KINDS[name]
    found = await detect([closed(), at(fake), closed()], CONNECT_S)
    assert found.chosen is not None, found.reason
    assert (found.chosen.backend, found.chosen.endpoint, found.chosen.model,
            found.chosen.format, found.chosen.download) == (backend, fake.url, model, fmt, False)
    where = fake.url.removeprefix("http://")
    assert found.summary().startswith(f"{label} at {where}, ")
    # every identifying question was asked of every candidate, and answered or refused
    assert len(found.probes) >= 12
    assert {p.failure for p in found.probes if p.status is None} == {"refused"}


async def test_nothing_listening() -> None:
    places = [closed() for _ in range(4)]
    found = await detect(places, CONNECT_S)
    assert found.chosen is None
    ports = [c.url.rsplit(":", 1)[1] for c in places]
    assert found.reason == (f"no server answered at 127.0.0.1:{ports[0]}, :{ports[1]}, "
                            f":{ports[2]}, :{ports[3]}; start one, or set backend and endpoint")
    assert found.summary() == found.reason
    assert len(found.probes) == 16
    assert all(p.failure == "refused" for p in found.probes)
    # each probe was bounded by one connect timeout plus the short read timeout
    assert all(p.limit_s == CONNECT_S + found.read_timeout_s for p in found.probes)
    assert found.connect_timeout_s == CONNECT_S
    report = found.report()
    assert [p["answer"] for p in report["probes"]] == ["refused"] * 16


@pytest.fixture
def silent() -> Iterator[Candidate]:
    """A server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield Candidate(f"http://127.0.0.1:{sock.getsockname()[1]}")


async def test_a_server_that_never_answers_costs_one_bounded_wait(silent: Candidate) -> None:
    found = await detect([silent, closed()], CONNECT_S, read_timeout_s=0.2)
    assert found.chosen is None
    hung = [p for p in found.probes if p.url.startswith(silent.url)]
    assert [p.failure for p in hung] == ["no answer within 0.2 s"] * 4
    assert all(p.limit_s == CONNECT_S + 0.2 for p in hung)
    # concurrent: every probe had started before the first one gave up
    first_end = min(p.started + p.elapsed_ms / 1000 for p in found.probes)
    assert all(p.started <= first_end for p in found.probes)
    assert found.servers[0].describe() == f"{silent.where}: no answer within 0.2 s"


async def test_two_at_once_ollama_is_preferred(ollama_fake: OllamaFake,
                                               llamacpp_fake: LlamaCppFake) -> None:
    for order in ([at(llamacpp_fake), at(ollama_fake)], [at(ollama_fake), at(llamacpp_fake)]):
        found = await detect(order, CONNECT_S)
        assert found.chosen is not None and found.chosen.backend == "ollama"
        kinds = {ollama_fake.url: "ollama", llamacpp_fake.url: "llamacpp"}
        assert [s.identity.kind for s in found.servers] == [kinds[c.url] for c in order]


async def test_two_at_once_a_ready_server_before_a_download(llamacpp_fake: LlamaCppFake) -> None:
    with OllamaFake(models=["llama3.2:3b"]) as ollama:
        found = await detect([at(ollama), at(llamacpp_fake)], CONNECT_S)
    assert found.chosen is not None and found.chosen.backend == "llamacpp"
    assert found.summary() == (f"llama-server at {llamacpp_fake.url.removeprefix('http://')}, "
                               "qwen2.5-coder-1.5b-q8_0, format qwen")


async def test_explicit_endpoint_first(ollama_fake: OllamaFake, vllm_fake: OpenAIFake) -> None:
    found = await detect([at(vllm_fake, explicit=True), at(ollama_fake)], CONNECT_S)
    assert found.chosen is not None
    assert (found.chosen.backend, found.chosen.endpoint) == ("vllm", vllm_fake.url)


async def test_explicit_endpoint_given_as_the_v1_base_url(vllm_fake: OpenAIFake) -> None:
    found = await detect([Candidate(vllm_fake.url + "/v1", explicit=True)], CONNECT_S)
    assert found.chosen is not None and found.chosen.backend == "vllm"
    assert found.chosen.endpoint == vllm_fake.url + "/v1"  # the vllm backend strips it itself
    assert {p.url.removeprefix(vllm_fake.url) for p in found.probes} == {
        "/api/version", "/props", "/version", "/v1/models"}


async def test_explicit_endpoint_silent(ollama_fake: OllamaFake) -> None:
    gone = closed()
    found = await detect([Candidate(gone.url, explicit=True), at(ollama_fake)], CONNECT_S)
    assert found.chosen is not None and found.chosen.backend == "ollama"
    assert found.summary().endswith(f"; nothing usable at {gone.where}")


async def test_ollama_without_a_coder_model_offers_the_default() -> None:
    with OllamaFake(models=["llama3.2:3b", "nomic-embed-text:latest"]) as ollama:
        found = await detect([at(ollama)], CONNECT_S)
        assert [r.path for r in ollama.recorded("/api/tags")] == ["/api/tags"]
    assert found.chosen is not None
    assert (found.chosen.backend, found.chosen.model, found.chosen.download) == (
        "ollama", DEFAULT_MODEL, True)
    assert "offering to download it" in found.summary()


async def test_ollama_coder_model_present_base_variant_first() -> None:
    with OllamaFake(models=["qwen2.5-coder:7b", "deepseek-coder:1.3b-base"]) as ollama:
        found = await detect([at(ollama)], CONNECT_S)
    assert found.chosen is not None
    assert (found.chosen.model, found.chosen.format) == ("deepseek-coder:1.3b-base", "deepseek")


async def test_a_server_that_needs_an_api_key(lmstudio: OpenAIFake) -> None:
    lmstudio.api_key = "sk-canary-555"
    found = await detect([at(lmstudio), closed()], CONNECT_S)
    assert found.chosen is None
    assert "needs an API key (401): set api_key_env" in found.reason
    assert "401" in " ".join(p["answer"] for p in found.report()["probes"])

    found = await detect([at(lmstudio)], CONNECT_S, api_key="sk-canary-555")
    assert found.chosen is not None and found.chosen.model == "qwen2.5-coder-7b"
    assert lmstudio.recorded("/v1/models")[-1].headers["authorization"] == "Bearer sk-canary-555"


async def test_the_key_goes_only_to_the_users_endpoint(ollama_fake: OllamaFake,
                                                      openai_fake: OpenAIFake) -> None:
    await detect([at(openai_fake, explicit=True), at(ollama_fake)], CONNECT_S, api_key="k1")
    assert {r.headers.get("authorization") for r in openai_fake.recorded()} == {"Bearer k1"}
    assert {r.headers.get("authorization") for r in ollama_fake.recorded()} == {None}


async def test_vllm_with_a_key_says_what_it_is(vllm_fake: OpenAIFake) -> None:
    vllm_fake.api_key = "k"
    found = await detect([at(vllm_fake)], CONNECT_S)
    assert found.chosen is None
    assert found.reason.startswith(f"no usable server: {at(vllm_fake).where} (vLLM) needs an "
                                   "API key (401)")


async def test_llama_server_still_loading_is_chosen_with_its_model(
        llamacpp_fake: LlamaCppFake) -> None:
    """While loading, llama-server answers 503 to all but its model list."""
    llamacpp_fake.loading = True
    found = await detect([at(llamacpp_fake)], CONNECT_S)
    assert found.chosen is not None and found.chosen.loading
    assert found.chosen.model == llamacpp_fake.model_path
    assert found.summary().endswith("(still loading it)")
    assert [p.status for p in found.probes] == [503, 503, 503, 200]


async def test_the_key_never_reaches_the_report(openai_fake: OpenAIFake) -> None:
    echo = Reply.json({"error": {"message": "bad key sk-canary-777"}}, 403)
    openai_fake.override("/v1/models", echo)
    found = await detect([at(openai_fake)], CONNECT_S, api_key="sk-canary-777")
    text = repr(found.report()) + found.summary() + repr(found.probes)
    assert "sk-canary-777" not in text and "***" in text


async def test_something_else_on_the_port(openai_fake: OpenAIFake) -> None:
    page = Reply.text("<!doctype html><title>dev server</title>", 404, "text/html")
    for path in ("/api/version", "/props", "/version", "/v1/models"):
        openai_fake.override(path, page)
    found = await detect([at(openai_fake)], CONNECT_S)
    assert found.chosen is None and "not as a model server" in found.reason


# --- plugging the choice into the engine's configuration ------------------------------


@pytest.fixture
def no_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    """The default ports of this machine stay out of the test: closed ports instead."""
    monkeypatch.setattr(detection, "DEFAULT_CANDIDATES", tuple(closed().url for _ in range(4)))


@pytest.mark.parametrize("name", KINDS)
@pytest.mark.usefixtures("no_defaults")
async def test_the_chosen_server_completes(name: str, request: pytest.FixtureRequest) -> None:
    fake: ProtocolFake = request.getfixturevalue(name)
    config = parse_config({"endpoint": fake.url, "timeout": {"connect": 500}}).config
    found = await detect_for(config, {})
    assert found.chosen is not None, found.reason
    assert [c.explicit for c in found.candidates] == [True, False, False, False, False]
    assert found.connect_timeout_s == 0.5
    chosen = configured(config, found.chosen)
    assert (chosen.backend, chosen.endpoint, chosen.model) == (
        found.chosen.backend, fake.url, found.chosen.model)
    backend = create_backend(chosen)
    qwen = BUILTIN_TEMPLATES["qwen"]
    try:
        texts = [t async for t in backend.stream(Request("def f(", ")\n", qwen, 16, 0.1,
                                                         qwen.stop))]
    finally:
        await backend.aclose()
    assert "".join(texts) == "x = 1"


def test_routes_and_fallbacks_that_say_auto_follow_the_choice() -> None:
    raw = parse_config({"model": "", "routes": {
        "python": {"max_tokens": 32}, "lua": {"model": "starcoder2:3b"},
        "c": {"backend": "llamacpp"}}, "fallback": [{"backend": "openai",
                                                      "endpoint": "http://h:1"}]}).config
    auto = dataclasses.replace(raw, backend="auto", routes={
        ft: r if r.backend == "llamacpp" else dataclasses.replace(r, backend="auto")
        for ft, r in raw.routes.items()}, fallback=raw.fallback)
    choice = Choice("ollama", "http://127.0.0.1:11434", DEFAULT_MODEL, "qwen", "Ollama")
    done = configured(auto, choice)
    assert (done.backend, done.endpoint, done.model) == ("ollama", choice.endpoint,
                                                         DEFAULT_MODEL)
    python, lua, c = done.routes["python"], done.routes["lua"], done.routes["c"]
    assert (python.backend, python.model, python.max_tokens) == ("ollama", DEFAULT_MODEL, 32)
    assert (lua.backend, lua.endpoint, lua.model) == ("ollama", choice.endpoint,
                                                      "starcoder2:3b")
    assert c == auto.routes["c"] and done.fallback == auto.fallback


@pytest.mark.usefixtures("no_defaults")
async def test_ollama_without_a_coder_model_goes_on_to_the_pull_offer() -> None:
    with OllamaFake(models=["llama3.2:3b"]) as ollama:
        config = parse_config({"endpoint": ollama.url}).config
        found = await detect_for(config, {})
        assert found.chosen is not None and found.chosen.download
        backend = create_backend(configured(config, found.chosen))
        try:
            check = await backend.check_model()
        finally:
            await backend.aclose()
    assert (check.status, check.model) == ("missing", DEFAULT_MODEL)
    assert backend.capabilities.can_pull


# --- AutoSetup: what the controller holds for backend = 'auto' --------------------------


class Said:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __call__(self, text: str, level: str) -> None:
        self.lines.append((text, level))


def auto_config(endpoint: str = "", **raw: Any) -> Any:
    config = parse_config({"endpoint": endpoint, **raw}).config
    return dataclasses.replace(config, backend="auto")


@pytest.mark.usefixtures("no_defaults")
async def test_auto_setup_detects_lazily_once_and_says_so_once(
        llamacpp_fake: LlamaCppFake) -> None:
    said = Said()
    auto = AutoSetup(auto_config(llamacpp_fake.url), {}, said)
    assert auto.active and llamacpp_fake.recorded() == []  # nothing before a request
    first, second = await asyncio.gather(auto.resolve(), auto.resolve())
    assert first is second and first is not None
    assert (first.backend, first.endpoint) == ("llamacpp", llamacpp_fake.url)
    probes = len(llamacpp_fake.recorded())
    assert probes == 4  # one detection for both requests
    assert await auto.resolve() is first and len(llamacpp_fake.recorded()) == probes
    where = llamacpp_fake.url.removeprefix("http://")
    assert said.lines == [(f"llama-server at {where}, qwen2.5-coder-1.5b-q8_0, format qwen",
                           "info")]


@pytest.mark.usefixtures("no_defaults")
async def test_auto_setup_keeps_a_detection_whose_requests_were_all_cancelled(
        llamacpp_fake: LlamaCppFake) -> None:
    said = Said()
    auto = AutoSetup(auto_config(llamacpp_fake.url), {}, said)
    waiting = asyncio.get_running_loop().create_task(auto.resolve())
    await asyncio.sleep(0)  # the detection has started
    waiting.cancel()  # the user typed on: the request is cancelled, not the detection
    assert auto._task is not None
    await asyncio.wait({auto._task})
    assert auto.configured is not None and len(said.lines) == 1  # said when it was done
    config = await auto.resolve()
    assert config is auto.configured and len(llamacpp_fake.recorded()) == 4  # not again


@pytest.mark.usefixtures("no_defaults")
async def test_auto_setup_detects_again_once_the_server_is_gone() -> None:
    said = Said()
    with OllamaFake() as ollama:
        auto = AutoSetup(auto_config(ollama.url), {}, said)
        assert (await auto.resolve()) is not None
        assert not auto.gone(BadRequest("the server rejected the request (400)"))
        assert auto.configured is not None
        assert not auto.gone(ServerBusy("busy"))
    assert auto.gone(Unreachable("cannot reach it"))
    assert await auto.resolve() is None  # detected again: nothing there now
    assert said.lines[-1][1] == "warn" and "no server answered" in said.lines[-1][0]
    assert len(said.lines) == 2


@pytest.mark.usefixtures("no_defaults")
async def test_auto_setup_nothing_found_is_tried_again_after_the_retry_time() -> None:
    said = Said()
    now = [100.0]
    port = free_port()
    auto = AutoSetup(auto_config(f"http://127.0.0.1:{port}", fallback_retry=30000), {}, said,
                     clock=lambda: now[0])
    assert await auto.resolve() is None
    first = auto.detection
    assert await auto.resolve() is None and auto.detection is first  # no probes meanwhile
    with OllamaFake(port=port) as ollama:
        assert await auto.resolve() is None and ollama.recorded() == []
        now[0] += 30.0
        config = await auto.resolve()
        assert config is not None and config.backend == "ollama" and ollama.recorded()
    assert [level for _, level in said.lines] == ["warn", "info"]


@pytest.mark.usefixtures("no_defaults")
async def test_auto_setup_health_report_detects_when_needed(ollama_fake: OllamaFake) -> None:
    auto = AutoSetup(auto_config(ollama_fake.url), {}, Said())
    report = await auto.report()
    assert report["chosen"]["backend"] == "ollama"
    assert any(p["url"] == ollama_fake.url + "/api/version" and p["answer"].startswith("200")
               for p in report["probes"])
    assert await auto.report() == report  # the same detection, not another
    await auto.aclose()


# --- the real llama-server ---------------------------------------------------------------


@pytest.fixture(scope="module")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[llama_server.LlamaServer]:
    log = tmp_path_factory.mktemp("llama") / "detect.log"
    with llama_server.running(llama_server.smollm2_path(), log) as server:
        yield server


def _answer(found: Detection, url: str) -> Any:
    return next(p.body for p in found.probes if p.url == url)


@pytest.mark.llamacpp
async def test_detects_the_real_llama_server(real_server: llama_server.LlamaServer) -> None:
    found = await detect([closed(), Candidate(real_server.url)], CONNECT_S)
    assert found.chosen is not None, found.reason
    model = str(llama_server.smollm2_path())
    assert (found.chosen.backend, found.chosen.endpoint, found.chosen.model,
            found.chosen.format) == ("llamacpp", real_server.url, model, "prefix-only")
    assert found.summary() == (f"llama-server at 127.0.0.1:{real_server.port}, "
                               "SmolLM2-135M-Instruct.Q4_1, format prefix-only")
    # the fake answers the identifying paths with what the real server has
    with LlamaCppFake() as fake:
        faked = await detect([at(fake)], CONNECT_S)
    for path in ("/props", "/v1/models"):
        real, fake_body = _answer(found, real_server.url + path), _answer(faked, fake.url + path)
        assert set(fake_body) <= set(real), path
    real_card = _answer(found, real_server.url + "/v1/models")["data"][0]
    assert set(_answer(faked, fake.url + "/v1/models")["data"][0]) <= set(real_card)
    assert real_card["owned_by"] == "llamacpp"
