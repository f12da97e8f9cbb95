"""A seeded random editing session against a fake server that delays, errors and drops.

The plugin-on run logs every text it accepted; a plugin-off Neovim replays the same
keys, inserting exactly those texts through the same path (nvim_paste from a
mapping). Whatever the faults, the buffers must come out the same, with no
exception in the engine log and no error message but the injected faults' own.

    python -m tests.e2e.soak --keys 10000      (make soak)
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.harness import Editor
from tests.fakes.backends import OllamaFake
from tests.fakes.server import Recorded, Reply

ACCEPT_KEYS = ("<Tab>", "<C-Right>", "<C-Down>")
# Messages the injected faults may cause; anything else is a failure.
FAULT_MESSAGES = ("server error (500)", "closed the connection", "ended before")

LOG_ACCEPTS = """
local ghost = require('llama_coder.ghost')
_G.soak = { accepted = {} }
for _, name in ipairs({ 'accept', 'accept_word', 'accept_line' }) do
  local original = ghost[name]
  ghost[name] = function()
    local before = ghost.state and ghost.state.text or nil
    local ok = original()
    if ok then
      local after = ghost.state and ghost.state.text or ''
      table.insert(soak.accepted, before:sub(1, #before - #after))
    end
    return ok
  end
end
"""

REPLAY_MAP = """
vim.keymap.set('i', '<F12>', function() vim.api.nvim_paste(vim.g.soak_text, false, -1) end)
"""


class ChaosFake(OllamaFake):
    """Answers normally, slowly, with a 500, or by dying mid-stream, at random."""

    def __init__(self, seed: int) -> None:
        super().__init__(tokens=["value", " = ", "compute(", "x", ")"])
        self.rng = random.Random(seed)
        self.routes[("POST", "/api/generate")] = self._chaos

    def _chaos(self, request: Recorded) -> Reply:
        roll = self.rng.random()
        if roll < 0.1:
            return Reply.json({"error": "boom"}, 500)
        reply = self._generate(request)
        if roll < 0.2:
            reply.pieces = reply.pieces[:2]
            reply.die = True
        elif roll < 0.4:
            for piece in reply.pieces:
                piece.delay = self.rng.uniform(0.0, 0.08)
        return reply


@dataclass
class Session:
    keys: list[str] = field(default_factory=list)
    accepted: list[tuple[int, str]] = field(default_factory=list)  # (key index, text)
    start: dict[str, float] = field(default_factory=dict)  # engine report after warm-up
    end: dict[str, float] = field(default_factory=dict)  # and after the session


def script(count: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    insert = True
    words = ["x", "y", "value", "(", ")", " ", "=", "1", "\n"]
    for _ in range(count):
        roll = rng.random()
        if insert:
            if roll < 0.60:
                word = rng.choice(words)
                yield "<CR>" if word == "\n" else word
            elif roll < 0.70:
                yield "<BS>"
            elif roll < 0.80:
                yield rng.choice(ACCEPT_KEYS)
            elif roll < 0.85:
                yield "<C-]>"
            elif roll < 0.90:
                yield rng.choice(["<Left>", "<Right>"])
            else:
                insert = False
                yield "<Esc>"
        else:
            if roll < 0.25:
                yield "u"
            elif roll < 0.45:
                yield rng.choice(["h", "l", "j", "k", "w", "b", "0", "$"])
            elif roll < 0.55:
                yield ":bnext<CR>"
            elif roll < 0.60:
                yield "x"
            else:
                insert = True
                yield rng.choice(["i", "a", "A", "o"])


def settle(ed: Editor) -> None:
    ed.nvim.eval("1")  # answered once the typeahead before it is processed


@contextmanager
def two_buffers(ed: Editor, folder: Path) -> Iterator[None]:
    (folder / "a.py").write_text("def f(x):\n    return x\n")
    (folder / "b.py").write_text("import os\n")
    ed.nvim.command(f"cd {folder} | edit a.py | edit b.py | buffer a.py")
    ed.nvim.command("set hidden noswapfile")
    yield


def run_with_plugin(count: int, seed: int, folder: Path) -> tuple[Session, dict[str, list[str]],
                                                                  Editor, ChaosFake]:
    fake = ChaosFake(seed)
    fake.start()
    ed = Editor({"backend": "ollama", "endpoint": fake.url, "delay": 15})
    ed.lua(LOG_ACCEPTS)
    session = Session()
    with two_buffers(ed, folder):
        ed.type("Gi")
        for index, key in enumerate(script(count, seed)):
            if index == 50:
                session.start = engine_report(ed, 900_001)
            before = int(ed.lua("return #soak.accepted"))
            ed.nvim.input(key)
            settle(ed)
            session.keys.append(key)
            after = int(ed.lua("return #soak.accepted"))
            if after > before:
                text = str(ed.lua("return soak.accepted[#soak.accepted]"))
                session.accepted.append((index, text))
            if index % 7 == 0:
                time.sleep(0.03)  # now and then let a suggestion arrive
            check_ghost(ed)
        ed.nvim.input("<Esc>")
        settle(ed)
        session.end = engine_report(ed, 900_002)
    return session, buffers(ed), ed, fake


ENGINE_REPORT = """
local token = ...
local bridge = require('llama_coder.bridge')
require('llama_coder.engine').send('llama_coder_health', token)
vim.wait(10000, function() return bridge.health_reports[token] ~= nil end, 10)
local report = bridge.health_reports[token]
bridge.health_reports[token] = nil
return report and { tasks = report.tasks, connections = report.connections,
                    rss_mb = report.rss_mb } or vim.NIL
"""


def engine_report(ed: Editor, token: int) -> dict[str, float]:
    """Live asyncio tasks, pooled connections and RSS of the engine."""
    report = ed.lua(ENGINE_REPORT, token)
    assert report, "the engine did not answer"
    return dict(report)


def check_ghost(ed: Editor) -> None:
    """A visible ghost is in the current buffer, at the cursor, in Insert mode."""
    state = ed.lua("local s = require('llama_coder.ghost').state "
                   "if not s or not s.mark then return nil end "
                   "local c = vim.api.nvim_win_get_cursor(0) "
                   "return {s.buf == vim.api.nvim_get_current_buf(), s.row == c[1] - 1, "
                   "s.col == c[2], vim.api.nvim_get_mode().mode}")
    if state is not None:
        assert state[:3] == [True, True, True], f"stale ghost: {state}"


def buffers(ed: Editor) -> dict[str, list[str]]:
    return {Path(b.name).name: list(b[:]) for b in ed.nvim.buffers if b.name}


def replay(session: Session, folder: Path) -> dict[str, list[str]]:
    ed = Editor(None)
    try:
        ed.lua(REPLAY_MAP)
        accepted = dict(session.accepted)
        with two_buffers(ed, folder):
            ed.type("Gi")
            for index, key in enumerate(session.keys):
                if index in accepted:
                    ed.nvim.vars["soak_text"] = accepted[index]
                    ed.nvim.input("<F12>")
                else:  # accept keys that found no suggestion did what they do in Neovim
                    ed.nvim.input(key)
                settle(ed)
            ed.nvim.input("<Esc>")
            settle(ed)
        return buffers(ed)
    finally:
        ed.close()


def soak(count: int, seed: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp_on, tempfile.TemporaryDirectory() as tmp_off:
        session, on, ed, fake = run_with_plugin(count, seed, Path(tmp_on))
        try:
            pid = int(ed.lua("return vim.fn.jobpid(require('llama_coder.engine').chan)"))
            log, messages = ed.log_text(), ed.messages()
        finally:
            ed.close()
            fake.stop()
        off = replay(session, Path(tmp_off))
    return {"on": on, "off": off, "accepted": len(session.accepted), "log": log,
            "messages": messages, "pid": pid, "requests": len(fake.completions()),
            "start": session.start, "end": session.end}


def leaks(result: dict[str, object]) -> list[str]:
    """Growth of engine tasks, connections or memory over the session."""
    start, end = result["start"], result["end"]
    assert isinstance(start, dict) and isinstance(end, dict)
    found = []
    if end["tasks"] > start["tasks"]:
        found.append(f"asyncio tasks {start['tasks']} -> {end['tasks']}")
    if end["connections"] is not None and end["connections"] > 2:
        found.append(f"{end['connections']} open connections")
    if end["rss_mb"] - start["rss_mb"] >= 5:
        found.append(f"RSS {start['rss_mb']} -> {end['rss_mb']} MB")
    return found


NEOVIM_OWN = re.compile(r"^\d+ (changes?|lines? less|more lines?|fewer lines);|"
                       r"^Already at (oldest|newest) change")


def unexpected_messages(messages: str) -> list[str]:
    return [line for line in messages.splitlines()
            if line.strip() and not NEOVIM_OWN.match(line.strip())
            and not any(ok in line for ok in FAULT_MESSAGES)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make soak")
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.monotonic()
    result = soak(args.keys, args.seed)
    same = result["on"] == result["off"]
    bad = unexpected_messages(str(result["messages"]))
    leaked = leaks(result)
    print(f"{args.keys} keys, {result['requests']} requests, {result['accepted']} accepts, "
          f"buffers equal: {same}, unexpected messages: {len(bad)}, leaks: {leaked or 'none'}, "
          f"engine {result['start']} -> {result['end']}, {time.monotonic() - started:.0f} s")
    ok = same and not bad and not leaked and "Traceback" not in str(result["log"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
