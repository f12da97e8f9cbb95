"""A block in two requests (ui.rest_after): the first line, then the rest, which goes on
from the model's own text, against each server's protocol fake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from llama_coder.backends.base import StreamStats
from llama_coder.completer import Completer
from llama_coder.core.config import parse_config
from llama_coder.core.prompt import Snapshot
from tests.fakes.backends import LlamaCppFake, OllamaFake, OpenAIFake, ProtocolFake
from tests.fakes.server import Reply

BLOCK = ["y = x\n", "    z = y\n", "    return z"]
WHOLE = "y = x\n    z = y\n    return z"
# The cursor on an empty line inside a block: a block is asked for.
AT_BLOCK = Snapshot(["def f(x):", "    "], 0, 1, 4, "a.py", "python")
# Code after the cursor: one line, one request.
MID_LINE = Snapshot(["def f(x):", "    y = (x)"], 0, 1, 9, "a.py", "python")

MakeCompleter = Callable[..., Completer]


@pytest.fixture(params=["ollama", "openai", "vllm", "llamacpp"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[str, ProtocolFake]]:
    kind = request.param
    fake: ProtocolFake
    if kind == "ollama":
        fake = OllamaFake(tokens=list(BLOCK))
    elif kind == "llamacpp":
        fake = LlamaCppFake(tokens=list(BLOCK), fim=False)  # our prompt, on /completion
    else:
        fake = OpenAIFake(tokens=list(BLOCK), vllm=kind == "vllm")
    with fake:
        yield kind, fake


@pytest.fixture
async def make_completer() -> AsyncIterator[MakeCompleter]:
    made: list[Completer] = []

    def make(kind: str, fake: ProtocolFake, **options: Any) -> Completer:
        raw: dict[str, Any] = {"backend": kind, "endpoint": fake.url,
                               "cache": {"disk": False}, **options}
        if kind in ("openai", "vllm"):
            raw["model"] = "Qwen/Qwen2.5-Coder-1.5B"
        result = parse_config(raw)
        assert result.problems == []
        made.append(Completer(result.config))
        return made[-1]

    yield make
    for completer in made:
        await completer.aclose()


def prompt_of(body: dict[str, Any]) -> str:
    return str(body["prompt"])


async def learned(completer: Completer, fake: ProtocolFake) -> int:
    """How many requests ``fake`` has seen once ``completer`` knows its server. (On
    llama-server the first request finds out that /infill is not there, a model without
    FIM tokens, and /completion with our prompt is used from then on.)"""
    await completer.complete(MID_LINE, asyncio.Event())
    return len(fake.completions())


async def test_the_rest_goes_on_from_the_first_line(
        server: tuple[str, ProtocolFake], make_completer: MakeCompleter) -> None:
    kind, fake = server
    completer = make_completer(kind, fake, ui={"rest_after": 30})
    before = await learned(completer, fake)
    fake.delay = 0.1  # the second line is not yet sent when the first is in
    lines: list[str] = []
    completion = await completer.complete(AT_BLOCK, asyncio.Event(), on_lines=lines.append)
    assert completion.text == WHOLE
    assert lines == ["y = x", "y = x\n    z = y"]  # then the last line, with the end
    first, rest = fake.completions()[before:]
    assert first.disconnected_at is not None  # cut once its first line was in
    # The second prompt is the first plus the model's own text so far: all of it but the
    # new tokens is in the server's prompt cache.
    assert prompt_of(rest.body) == prompt_of(first.body) + "y = x\n"
    assert completion.stats.predicted_tokens == len(BLOCK)
    assert completer.cache.get(*completer.prompt_key(AT_BLOCK)) == WHOLE


async def test_the_rest_is_asked_for_once_the_first_line_stayed(
        make_completer: MakeCompleter) -> None:
    with OllamaFake(tokens=list(BLOCK), delay=0.05) as fake:
        completer = make_completer("ollama", fake, ui={"rest_after": 300})
        shown_at: list[float] = []
        await completer.complete(AT_BLOCK, asyncio.Event(),
                                 on_lines=lambda _: shown_at.append(time.monotonic()))
        _, rest = fake.completions()
        assert rest.received_at - shown_at[0] >= 0.3


async def test_a_failed_rest_leaves_the_lines_on_screen_as_the_suggestion(
        make_completer: MakeCompleter) -> None:
    with OllamaFake(tokens=list(BLOCK), delay=0.05) as fake:
        completer = make_completer("ollama", fake, ui={"rest_after": 10})

        def shown(text: str) -> None:
            fake.override("/api/generate", Reply.json({"error": "server busy"}, 503))

        completion = await completer.complete(AT_BLOCK, asyncio.Event(), on_lines=shown)
        assert completion.text == "y = x"  # what was shown, not taken back
        assert len(fake.recorded("/api/generate")) == 2
        assert completer.cache.get(*completer.prompt_key(AT_BLOCK)) is None  # not kept


async def test_typing_on_before_the_rest_costs_no_second_request(
        server: tuple[str, ProtocolFake], make_completer: MakeCompleter) -> None:
    kind, fake = server
    completer = make_completer(kind, fake, ui={"rest_after": 5000})
    before = await learned(completer, fake)
    cancel = asyncio.Event()

    def shown(text: str) -> None:
        asyncio.get_running_loop().call_soon(cancel.set)  # a key right after the first line

    completion = await completer.complete(AT_BLOCK, cancel, on_lines=shown)
    assert completion.text is None
    assert len(fake.completions()) == before + 1


@pytest.mark.parametrize(("options", "place"), [
    ({"ui": {"rest_after": 0}}, AT_BLOCK),
    ({"multiline": "never"}, AT_BLOCK),
    ({}, MID_LINE),  # multiline = 'auto': one line in the middle of a line
])
async def test_one_request_without_rest_after_or_for_one_line(
        options: dict[str, Any], place: Snapshot, make_completer: MakeCompleter) -> None:
    with OllamaFake(tokens=list(BLOCK)) as fake:
        completer = make_completer("ollama", fake, **options)
        completion = await completer.complete(place, asyncio.Event(), on_lines=lambda _: None)
        assert completion.text is not None
        assert len(fake.completions()) == 1


@pytest.mark.parametrize(("kind", "options"), [
    ("llamacpp", {}),  # /infill: llama-server builds the FIM prompt
    ("openai", {"openai": {"send_suffix": True}}),
])
async def test_one_request_where_the_server_builds_the_prompt(
        kind: str, options: dict[str, Any], make_completer: MakeCompleter) -> None:
    fake: ProtocolFake = (LlamaCppFake(tokens=list(BLOCK)) if kind == "llamacpp"
                          else OpenAIFake(tokens=list(BLOCK)))
    with fake:
        completer = make_completer(kind, fake, **options)
        completion = await completer.complete(AT_BLOCK, asyncio.Event(),
                                              on_lines=lambda _: None)
        assert completion.text == WHOLE
        assert len(fake.completions()) == 1


async def test_no_time_limit_stays_no_time_limit(make_completer: MakeCompleter) -> None:
    with LlamaCppFake(tokens=list(BLOCK), fim=False, delay=0.05) as fake:
        completer = make_completer("llamacpp", fake, ui={"rest_after": 10},
                                   llamacpp={"t_max_predict_ms": 0})
        before = await learned(completer, fake)
        await completer.complete(AT_BLOCK, asyncio.Event(), on_lines=lambda _: None)
        assert [r.body["t_max_predict_ms"] for r in fake.completions()[before:]] == [0, 0]


async def test_llama_server_time_budget_counts_the_first_request(
        make_completer: MakeCompleter) -> None:
    with LlamaCppFake(tokens=list(BLOCK), fim=False) as fake:
        completer = make_completer("llamacpp", fake, ui={"rest_after": 200},
                                   llamacpp={"t_max_predict_ms": 1000}, max_tokens=64)
        before = await learned(completer, fake)
        await completer.complete(AT_BLOCK, asyncio.Event(), on_lines=lambda _: None)
        first, rest = (r.body for r in fake.completions()[before:])
        assert first["t_max_predict_ms"] == 1000 and first["n_predict"] == 64
        assert 100 <= rest["t_max_predict_ms"] <= 800  # the wait came out of it
        assert rest["n_predict"] == 63  # one token came with the first request


def test_stats_of_two_requests() -> None:
    first = StreamStats(prompt_tokens=40, cached_tokens=200, prompt_ms=200.0,
                        predicted_ms=50.0, route="/completion")
    rest = StreamStats(prompt_tokens=2, cached_tokens=246, predicted_tokens=30,
                       prompt_ms=10.0, predicted_ms=300.0, route="/completion",
                       stop_reason="eos")
    both = first.then(rest, 6)
    assert (both.prompt_tokens, both.cached_tokens, both.predicted_tokens) == (42, 200, 36)
    assert (both.prompt_ms, both.predicted_ms, both.stop_reason) == (210.0, 350.0, "eos")
    # A server that reports only at the end: the second request's prompt figures.
    assert StreamStats().then(rest, 6).cached_tokens == 246
