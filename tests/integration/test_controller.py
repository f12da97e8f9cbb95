"""The controller against protocol fakes: model readiness, rechecks, the status,
alternatives by id and text that is not UTF-8. Waits on the messages it sends."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from devtools.llama_server import free_port
from llama_coder.controller import Controller
from llama_coder.core import detection
from llama_coder.readiness import ModelState
from tests.fakes.backends import LlamaCppFake, OllamaFake
from tests.fakes.server import Piece, Reply, until

Message = tuple[str, dict[str, Any]]


class RecordingEditor:
    """The Editor protocol: keeps every message and wakes whoever waits for one."""

    def __init__(self) -> None:
        self.sent: list[Message] = []
        self._changed = asyncio.Condition()

    def send(self, kind: str, payload: Any) -> None:
        self.sent.append((kind, dict(payload)))
        asyncio.get_running_loop().create_task(self._wake())

    async def _wake(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[], Any], timeout: float = 5.0) -> Any:
        async def until() -> Any:
            async with self._changed:
                while not (value := predicate()):
                    await self._changed.wait()
                return value
        return await asyncio.wait_for(until(), timeout)

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [payload for k, payload in self.sent if k == kind]

    def last_status(self) -> str:
        statuses = self.of("status")
        return str(statuses[-1]["state"]) if statuses else ""


def request(request_id: int, lines: list[str] | None = None, col: int = 4) -> dict[str, Any]:
    return {"id": request_id, "buf": 1, "tick": request_id, "row": 0, "col": col,
            "first_line": 0, "lines": lines or ["x = "], "path": "a.py",
            "filetype": "python"}


def generate_reply(text: str) -> Reply:
    lines = [{"model": "m", "response": text, "done": False},
             {"model": "m", "response": "", "done": True, "done_reason": "stop"}]
    return Reply(200, "application/x-ndjson",
                 [Piece(json.dumps(line).encode() + b"\n") for line in lines])


@pytest.fixture
async def controller() -> AsyncIterator[tuple[Controller, RecordingEditor]]:
    editor = RecordingEditor()
    ctl = Controller(editor, environ={})
    yield ctl, editor
    await ctl.shutdown()


def model_state(ctl: Controller) -> ModelState:
    assert ctl.completer is not None
    return ctl.models.state(ctl.completer)


# --- the status ------------------------------------------------------------------------

async def test_thinking_does_not_stay_after_a_hard_cancel(
        controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = controller
    with OllamaFake(tokens=["1"]) as fake:
        fake.first_delay = 5.0
        ctl.configure({"backend": "ollama", "endpoint": fake.url, "prefetch": False})
        ctl.complete(request(1))
        await editor.wait_for(lambda: editor.last_status() == "thinking")
        # A newer request stops the first where it is; the user leaves at once.
        ctl.complete(request(2))
        ctl.cancel(2)
        await editor.wait_for(lambda: editor.last_status() == "idle")
        assert ctl._current is None


async def test_thinking_does_not_stay_when_a_fallback_check_is_cut_short(
        controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = controller
    with OllamaFake() as primary, OllamaFake() as fallback:
        # The primary fails slowly ("thinking" shows), then the fallback's model check
        # hangs; a newer request stops it there, and the user leaves at once.
        primary.override("/api/generate", Reply(500, "application/json", [
            Piece(b'{"error":"boom"}', 0.3)], chunked=False))
        fallback.override("/api/tags", Reply(200, "application/json", [], hang=True))
        ctl.configure({"backend": "ollama", "endpoint": primary.url, "prefetch": False,
                       "fallback": [{"backend": "ollama", "endpoint": fallback.url}]})
        ctl.complete(request(1))
        await editor.wait_for(lambda: editor.last_status() == "thinking")
        assert await until(lambda: bool(fallback.recorded("/api/tags")))
        ctl.complete(request(2))
        ctl.cancel(2)
        await editor.wait_for(lambda: editor.last_status() == "idle")
        assert ctl._current is None


# --- model readiness -------------------------------------------------------------------

async def ask_and_answer(ctl: Controller, editor: RecordingEditor, answer: str) -> None:
    asked = len(editor.of("ask_pull"))
    ctl.complete(request(1))
    await editor.wait_for(lambda: len(editor.of("ask_pull")) > asked)
    ctl.pull_answer([editor.of("ask_pull")[-1]["model"], answer])


async def test_a_failed_download_says_so_and_is_offered_again(
        controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = controller
    with OllamaFake(models=[]) as fake:
        ctl.configure({"backend": "ollama", "endpoint": fake.url, "model": "m:1b"})
        fake.override("/api/pull", Reply(200, "application/x-ndjson", [
            Piece(b'{"status":"pulling manifest"}\n'),
            Piece(b'{"error":"max retries exceeded: connection reset"}\n')]))
        await ask_and_answer(ctl, editor, "download")
        await editor.wait_for(lambda: model_state(ctl) is ModelState.FAILED)
        note = next(p["message"] for p in editor.of("notify") if p["level"] == "error")
        assert "download of model m:1b failed" in note
        assert "max retries exceeded" in note and "suggestion" not in note
        assert not note.startswith("llama")  # the Lua notifier adds the name
        status = editor.of("status")[-1]
        assert status["state"] == "missing" and status["detail"] == "ollama pull m:1b"
        # Coming back: offered again, and this time the download works.
        ctl.recheck("return")
        await editor.wait_for(lambda: len(editor.of("ask_pull")) == 2)
        ctl.pull_answer(["m:1b", "download"])
        await editor.wait_for(lambda: any("m:1b downloaded" in p["message"]
                                          for p in editor.of("notify")))
        ctl.complete(request(3))
        result = await editor.wait_for(
            lambda: [p for p in editor.of("result") if p["id"] == 3 and p["text"]])
        assert result[0]["text"] == "x = 1"


async def test_not_now_then_pulled_in_a_terminal_is_used_after_a_recheck(
        controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = controller
    with OllamaFake(models=[]) as fake:
        ctl.configure({"backend": "ollama", "endpoint": fake.url, "model": "m:1b"})
        await ask_and_answer(ctl, editor, "not now")
        await editor.wait_for(lambda: model_state(ctl) is ModelState.DECLINED)
        assert editor.of("status")[-1]["detail"] == "ollama pull m:1b"
        ctl.complete(request(2))
        await editor.wait_for(lambda: [p for p in editor.of("result") if p["id"] == 2])
        assert fake.completions() == []
        # Not asked again when the user comes back to typing...
        ctl.recheck("return")
        assert await until(lambda: len(fake.recorded("/api/tags")) == 2)
        await editor.wait_for(lambda: model_state(ctl) is ModelState.DECLINED)
        assert len(editor.of("ask_pull")) == 1
        # ...but :LlamaCoderStatus asks again.
        ctl.recheck("status")
        await editor.wait_for(lambda: len(editor.of("ask_pull")) == 2)
        ctl.pull_answer(["m:1b", "not now"])
        # `ollama pull` in a terminal: the next recheck finds it.
        fake.models.append("m:1b")
        ctl.recheck("return")
        await editor.wait_for(lambda: model_state(ctl) is ModelState.READY)
        assert editor.last_status() == "idle"
        ctl.complete(request(3))
        await editor.wait_for(lambda: [p for p in editor.of("result")
                                       if p["id"] == 3 and p["text"] == "x = 1"])


async def test_missing_on_a_server_that_cannot_pull_is_found_after_a_restart(
        controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = controller
    with LlamaCppFake() as fake:
        ctl.configure({"backend": "llamacpp", "endpoint": fake.url, "model": "codellama-13b"})
        ctl.complete(request(1))
        await editor.wait_for(lambda: model_state(ctl) is ModelState.MISSING)
        status = editor.of("status")[-1]
        assert (status["state"], status["detail"]) == ("missing", "codellama-13b")
        assert len([p for p in editor.of("notify") if p["level"] == "error"]) == 1
        fake.model_path = "/models/codellama-13b.gguf"  # restarted with the right model
        ctl.recheck("return")
        await editor.wait_for(lambda: model_state(ctl) is ModelState.READY)
        assert editor.last_status() == "idle"


# --- alternatives by id ----------------------------------------------------------------

async def test_alternatives_are_asked_for_by_request_id(
        controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = controller
    with OllamaFake(tokens=["1"]) as fake:
        ctl.configure({"backend": "ollama", "endpoint": fake.url, "prefetch": False})
        ctl.complete(request(5))
        await editor.wait_for(lambda: [p for p in editor.of("result") if p["text"]])
        fake.override("/api/generate", generate_reply("2"), generate_reply("1"),
                      generate_reply("3"))
        ctl.ask_alternatives({"id": 5, "count": 3, "known": ["1"]})
        await editor.wait_for(lambda: editor.of("alternatives_done"))
        alternatives = editor.of("alternative")
        assert [a["text"] for a in alternatives] == ["2", "3"]
        assert all((a["id"], a["row"], a["col"], a["tick"]) == (5, 0, 4, 5)
                   for a in alternatives)
        bodies = [r.body["prompt"] for r in fake.completions()]
        assert len(set(bodies)) == 1  # the same window, kept by the engine


async def test_alternatives_for_an_unknown_request_end_at_once(
        controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = controller
    with OllamaFake() as fake:
        ctl.configure({"backend": "ollama", "endpoint": fake.url})
        ctl.ask_alternatives({"id": 99, "count": 3, "known": []})
        await editor.wait_for(lambda: editor.of("alternatives_done"))
        assert editor.of("alternatives_done") == [{"id": 99}]
        assert fake.completions() == []


# --- backend = 'auto' ---------------------------------------------------------------------

def closed_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture
def auto_controller(controller: tuple[Controller, RecordingEditor],
                    monkeypatch: pytest.MonkeyPatch) -> tuple[Controller, RecordingEditor]:
    """For backend = 'auto': closed ports stand in for this machine's default ones."""
    monkeypatch.setattr(detection, "DEFAULT_CANDIDATES", tuple(closed_url() for _ in range(4)))
    return controller


def texts(editor: RecordingEditor, request_id: int) -> list[str]:
    return [p["text"] for p in editor.of("result") if p["id"] == request_id and p["text"]]


def notes(editor: RecordingEditor) -> list[tuple[str, str]]:
    return [(p["message"], p["level"]) for p in editor.of("notify")]


async def test_auto_finds_the_server_on_the_first_request_and_says_so_once(
        auto_controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = auto_controller
    with LlamaCppFake(tokens=["1"]) as fake:
        ctl.configure({"endpoint": fake.url, "prefetch": False})
        assert ctl.router is None and fake.recorded() == []  # nothing probed before a request
        assert ctl.info()["backend"] == "auto"
        ctl.complete(request(1))
        ctl.complete(request(2))  # the first is cancelled while it detects
        await editor.wait_for(lambda: texts(editor, 2))
        ctl.complete(request(3))
        await editor.wait_for(lambda: texts(editor, 3))
        assert len(fake.recorded("/props")) == 1  # one detection for all three
        assert ctl.info()["backend"] == "auto: llamacpp"
        assert ctl.info()["endpoint"] == fake.url
    where = fake.url.removeprefix("http://")
    assert notes(editor) == [(f"llama-server at {where}, qwen2.5-coder-1.5b-q8_0, format qwen",
                              "info")]


async def test_auto_detects_again_when_the_chosen_server_goes_away(
        controller: tuple[Controller, RecordingEditor],
        monkeypatch: pytest.MonkeyPatch) -> None:
    ctl, editor = controller
    with OllamaFake(tokens=["2"]) as second:
        monkeypatch.setattr(detection, "DEFAULT_CANDIDATES",
                            (closed_url(), second.url, closed_url()))
        with LlamaCppFake(tokens=["1"]) as first:
            ctl.configure({"endpoint": first.url, "prefetch": False})
            ctl.complete(request(1))
            assert await editor.wait_for(lambda: texts(editor, 1)) == ["1"]
            assert ctl.info()["backend"] == "auto: llamacpp"
        # The chosen server is gone: this request fails, and says so...
        ctl.complete(request(2, ["y = "]))  # (not from the suggestion cache)
        await editor.wait_for(lambda: editor.last_status() == "error")
        assert editor.of("status")[-1]["detail"] == "unreachable"
        assert ctl.router is None
        # ...the next one detects again and finds the other server.
        ctl.complete(request(3, ["z = "]))
        assert await editor.wait_for(lambda: texts(editor, 3)) == ["2"]
        assert ctl.info()["backend"] == "auto: ollama"
        assert editor.last_status() == "idle"
        assert len(second.completions()) == 1
    first_at = first.url.removeprefix("http://")
    said = [text for text, level in notes(editor) if level == "info"]
    assert said[0].startswith(f"llama-server at {first_at}, ")
    assert said[1].startswith(f"Ollama at {second.url.removeprefix('http://')}, ")
    assert said[1].endswith(f"; nothing usable at {first_at}")


async def test_auto_a_fallback_answers_the_request_that_finds_the_server_gone(
        auto_controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = auto_controller
    with OllamaFake(tokens=["2"]) as spare:
        with LlamaCppFake(tokens=["1"]) as first:
            ctl.configure({"endpoint": first.url, "prefetch": False,
                           "fallback": [{"backend": "ollama", "endpoint": spare.url}]})
            ctl.complete(request(1))
            assert await editor.wait_for(lambda: texts(editor, 1)) == ["1"]
        # The engines of the server that went away are let go after this request,
        # not during it: its fallback still answers.
        ctl.complete(request(2, ["y = "]))
        assert await editor.wait_for(lambda: texts(editor, 2)) == ["2"]
        assert ctl.router is None  # the next request detects again
        assert not [p for p in editor.of("notify") if p["level"] == "error"]


async def test_auto_finds_nothing_the_fallbacks_answer_until_a_server_starts(
        auto_controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = auto_controller
    port = free_port()
    with OllamaFake(tokens=["2"]) as spare:
        ctl.configure({"endpoint": f"http://127.0.0.1:{port}", "prefetch": False,
                       "fallback": [{"backend": "ollama", "endpoint": spare.url}]})
        ctl.complete(request(1))
        assert await editor.wait_for(lambda: texts(editor, 1)) == ["2"]
        assert [level for _, level in notes(editor)] == ["warn"]  # nothing found: said
        assert ctl.info()["backend"] == "auto: ollama" and ctl.info()["endpoint"] == spare.url
        with LlamaCppFake(port=port, tokens=["1"]) as local:
            ctl.recheck("status")
            ctl.complete(request(2, ["y = "]))
            assert await editor.wait_for(lambda: texts(editor, 2)) == ["1"]
            assert ctl.info()["backend"] == "auto: llamacpp" and local.completions()
        assert len(spare.completions()) == 1


async def test_auto_with_nothing_there_shows_why_once_and_stays_quiet(
        auto_controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = auto_controller
    ctl.configure({"endpoint": closed_url()})
    for n in (1, 2, 3):
        ctl.complete(request(n))
        await editor.wait_for(lambda n=n: [p for p in editor.of("result") if p["id"] == n])
    status = editor.of("status")[-1]
    assert (status["state"], status["detail"]) == ("error", "no server")
    assert status["message"].startswith("no server answered at 127.0.0.1:")
    assert status["message"].endswith("start one, or set backend and endpoint")
    assert notes(editor) == [(status["message"], "warn")]  # said once, not per request
    assert ctl.info()["last_error"] == status["message"]
    assert ctl.auto is not None and ctl.auto.detection is not None
    assert len(ctl.auto.detection.probes) == 20  # detected once: within fallback_retry


async def test_auto_looks_again_at_once_when_the_user_asks(
        auto_controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = auto_controller
    port = free_port()
    ctl.configure({"endpoint": f"http://127.0.0.1:{port}", "prefetch": False})
    ctl.complete(request(1))
    await editor.wait_for(lambda: editor.last_status() == "error")
    with OllamaFake(port=port, tokens=["1"]) as fake:
        ctl.complete(request(2, ["y = "]))  # within fallback_retry: no new look
        await editor.wait_for(lambda: [p for p in editor.of("result") if p["id"] == 2])
        assert fake.recorded() == []
        ctl.recheck("status")  # :LlamaCoderStatus
        ctl.complete(request(3, ["z = "]))
        assert await editor.wait_for(lambda: texts(editor, 3)) == ["1"]
    assert editor.last_status() == "idle"


async def test_auto_health_report_lists_every_probe(
        auto_controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = auto_controller
    with OllamaFake() as fake:
        ctl.configure({"endpoint": fake.url})
        ctl.health(7)
        report = await editor.wait_for(lambda: editor.of("health"))
    report = report[0]
    assert report["token"] == 7 and report["reachable"] is True
    assert report["info"]["backend"] == "auto: ollama"
    found = report["detection"]
    assert found["chosen"]["backend"] == "ollama" and found["chosen"]["endpoint"] == fake.url
    assert {p["url"] for p in found["probes"]} >= {fake.url + "/api/version",
                                                   fake.url + "/api/tags"}
    assert {p["answer"] for p in found["probes"] if not p["url"].startswith(fake.url)} \
        == {"refused"}


async def test_auto_health_report_without_a_server_says_why(
        auto_controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = auto_controller
    ctl.configure({})
    ctl.health(1)
    report = (await editor.wait_for(lambda: editor.of("health")))[0]
    assert report["detection"]["chosen"] is None
    assert report["detection"]["summary"].startswith("no server answered at 127.0.0.1:")
    assert len(report["detection"]["probes"]) == 16
    assert "reachable" not in report and report["info"]["backend"] == "auto"


# --- bytes that are not UTF-8 ------------------------------------------------------------

def pynvim_string(raw: bytes) -> str:
    return raw.decode("utf-8", errors="surrogateescape")


async def test_invalid_bytes_in_the_window_and_context_still_get_suggestions(
        controller: tuple[Controller, RecordingEditor]) -> None:
    ctl, editor = controller
    with LlamaCppFake(tokens=["1"]) as fake:
        ctl.configure({"backend": "llamacpp", "endpoint": fake.url, "prefetch": False})
        ctl.add_context({"path": "old.c", "lines": [pynvim_string(b"/* d\xe9j\xe0 vu */"),
                                                    "int a;", "int b;", "int c;"]})
        line = pynvim_string(b"s = '\xe9' + ")
        ctl.complete(request(1, ["# caf\xe9", line], col=len(b"s = '\xe9' + ")) | {"row": 1})
        results = await editor.wait_for(lambda: [p for p in editor.of("result") if p["text"]])
        assert results[0]["text"] == "1"
        assert results[0]["col"] == len(b"s = '\xe9' + ")  # Lua's byte column, unchanged
        body = fake.completions()[-1].body
        assert "s = '\ufffd' + " in json.dumps(body, ensure_ascii=False)
        assert "d\ufffdj\ufffd vu" in json.dumps(body, ensure_ascii=False)
        assert not [p for p in editor.of("notify") if p["level"] == "error"]


# --- warm-up -------------------------------------------------------------------------

async def test_a_request_during_the_warm_ups_model_check_waits_for_that_check(
        controller: tuple[Controller, RecordingEditor]) -> None:
    """The warm-up starts the model check; a request that comes meanwhile shares its
    answer (it used to find the model 'being checked' and show nothing)."""
    ctl, editor = controller
    with OllamaFake(tokens=["1"]) as fake:
        fake.override("/api/tags", Reply(200, "application/json", [
            Piece(json.dumps({"models": [{"name": "qwen2.5-coder:1.5b-base"}]}).encode(),
                  0.3)], chunked=False))
        ctl.configure({"backend": "ollama", "endpoint": fake.url, "prefetch": False})
        ctl.warm(request(0))
        assert await until(lambda: bool(fake.recorded("/api/tags")))
        ctl.complete(request(1))
        result = await editor.wait_for(lambda: [r for r in editor.of("result")
                                                if r["id"] == 1])
        assert result[0]["text"] == "1"
        assert len(fake.recorded("/api/tags")) == 1  # one check for both
        assert fake.warm_ups() == []  # the request came first: the warm-up stopped
