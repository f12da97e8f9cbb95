"""backend = 'auto' in a real Neovim: setup() with only an endpoint finds the server kind.

The engine runs in its own process, so the default ports of this machine are probed
too; the user's endpoint wins whenever it answers as a model server, and the tests
look only at what concerns it (another test may run a server on a default port)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devtools.llama_server import free_port
from tests.e2e.harness import Editor
from tests.fakes.backends import LlamaCppFake


def test_an_endpoint_without_backend_is_found_said_once_and_completes(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with LlamaCppFake(tokens=["ret", "urn x", " + 1"]) as fake:
        ed = editor_factory({"endpoint": fake.url, "delay": 30, "prefetch": False})
        ed.edit(tmp_path / "a.py", "def f(x):\n")
        ed.type("Go    ")
        assert ed.wait_suggestion() == "return x + 1"
        where = fake.url.removeprefix("http://")
        said = f"llama-coder: llama-server at {where}, qwen2.5-coder-1.5b-q8_0, format qwen"
        ed.type("<Esc>")
        ed.type("ox = ")  # another request: found already, not said again
        ed.wait(lambda: len(fake.completions()) == 2, message="a second request")
        assert ed.messages().count(said) == 1
        assert len(fake.recorded("/props")) == 1  # detected once
        status = "\n".join(ed.lua("return require('llama_coder').status_lines()"))
        assert "backend   auto: llamacpp" in status
        # A block shown line by line is counted before its final result names the
        # server: under the same name, not the status line's "auto: llamacpp".
        fake.tokens, fake.delay = ["y = x\n", "z = y\n", "w = z"], 0.05
        ed.type("<Esc>")
        ed.type("o")
        ed.wait(lambda: ed.lua("local s = require('llama_coder.suggestion').shown "
                               "return s and s.partial or false"), message="a first line")
        ed.wait_suggestion()
        session = ed.lua("return require('llama_coder').stats().session")
        assert list(session) == ["llamacpp /models/qwen2.5-coder-1.5b-q8_0.gguf"], session
        ed.type("<Esc>")
        ed.nvim.command("checkhealth llama_coder")
        text = "\n".join(ed.lines())
    assert "automatic set-up (backend auto)" in text
    for path in ("/api/version", "/props", "/version", "/v1/models"):
        assert f"{fake.url}{path} -> " in text, path
    assert f"{fake.url}/props -> 200 " in text
    assert f"OK chosen: llama-server at {where}" in text
    assert "OK reachable" in text  # the chosen server, checked as before


def test_nothing_at_the_endpoint_is_one_warning_and_checkhealth_says_why(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    """Only the user's endpoint is asserted on: a default port may answer here."""
    gone = f"http://127.0.0.1:{free_port()}"
    ed = editor_factory({"endpoint": gone, "delay": 30, "prefetch": False})
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    ed.nvim.command("checkhealth llama_coder")
    text = "\n".join(ed.lines())
    assert "automatic set-up (backend auto)" in text
    assert f"{gone}/props -> refused" in text
    where = gone.removeprefix("http://")
    # nothing answers at the endpoint: said why (no server), or what was used instead
    assert (f"nothing usable at {where}" in text) or (
        "ERROR no server answered at " in text and where in text)
