"""Warm start: the engine starts, and the server evaluates the prompt of the buffer the
user enters, before the first keystroke asks for a suggestion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.e2e.harness import Editor
from tests.fakes.backends import LlamaCppFake


def opts(fake: LlamaCppFake) -> dict[str, object]:
    return {"backend": "llamacpp", "endpoint": fake.url, "delay": 30, "prefetch": False}


def test_entering_a_buffer_warms_the_prompt_the_first_request_will_send(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with LlamaCppFake(tokens=["pass"]) as fake:
        ed = editor_factory(opts(fake))
        ed.edit(tmp_path / "a.py", "import os\n\ndef f(x):\n    ")
        assert fake.wait_for(lambda: len(fake.warm_ups()) == 1)
        warm = fake.warm_ups()[0].body
        assert warm["n_predict"] == 0  # evaluate the prompt, generate nothing
        # The file's prompt, not the empty buffer Neovim started with (its warm-up, still
        # running, used to make the file's be dropped: one runs at a time).
        assert "def f(x):" in warm["input_suffix"]
        assert ed.lua("return require('llama_coder.engine').running()")  # before Insert mode
        ed.type("i#")  # at the place the cursor was when the buffer was entered
        assert ed.wait_suggestion() == "pass"
        first = fake.completions()[0].body
        # The same prompt start: the server's KV cache already holds it.
        assert first["input_prefix"].startswith(warm["input_prefix"])
        assert first["input_suffix"].endswith(warm["input_suffix"][1:])
        assert len(fake.warm_ups()) == 1


def test_no_warm_up_where_suggestions_are_off(editor_factory: Callable[..., Editor],
                                              tmp_path: Path) -> None:
    with LlamaCppFake() as fake:
        ed = editor_factory(opts(fake))
        ed.edit(tmp_path / "COMMIT_EDITMSG", "fix things\n", filetype="gitcommit")
        ed.edit(tmp_path / "a.txt", "text\n")  # a second buffer, suggestions on: warmed
        assert fake.wait_for(lambda: len(fake.warm_ups()) == 1)
        assert all("fix things" not in r.raw_body.decode() for r in fake.warm_ups())


def test_a_request_cancels_the_warm_up_and_only_one_runs(
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    with LlamaCppFake(tokens=["pass"]) as fake:
        fake.first_delay = 30.0  # a prompt evaluation that takes long
        ed = editor_factory(opts(fake))
        ed.edit(tmp_path / "a.py", "x = 1\n")
        assert fake.wait_for(lambda: len(fake.warm_ups()) == 1)
        ed.edit(tmp_path / "b.py", "y = 2\n")  # entered while the first warm-up runs
        ed.nvim.eval("1")
        fake.first_delay = 0.0
        ed.type("Go")
        assert ed.wait_suggestion() == "pass"
        assert fake.wait_for(lambda: fake.warm_ups()[0].disconnected_at is not None)
        assert len(fake.warm_ups()) == 1  # never two at once
