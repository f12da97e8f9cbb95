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
-- Every call of an accept action, in order: the text it pasted, or false.
local suggestion = require('llama_coder.suggestion')
local paste, pasted = vim.api.nvim_paste, nil
vim.api.nvim_paste = function(text, crlf, phase)
  pasted = text
  return paste(text, crlf, phase)
end
_G.soak = { calls = {} }
for _, name in ipairs({ 'accept', 'accept_word', 'accept_line' }) do
  local original = suggestion[name]
  suggestion[name] = function()
    pasted = nil
    local ok = original()
    table.insert(soak.calls, ok and pasted or false)
    return ok
  end
end
"""

# Odd setup tables users write: a list mixed with key = value entries, a function value,
# empty sections. Each gets a message; the plugin goes on with what it could use.
ODD_SETUP = """
local endpoint = ...
require('llama_coder').setup({
  backend = 'ollama', endpoint = endpoint, delay = 15,
  filetypes = { 'python', markdown = false },
  ui = {}, keymap = {}, context = { extra_chars = 1500 },
  on_accept = function() end,
})
"""
ODD_SETUP_MESSAGES = ("mixes list items", "is a function", "unknown option on_accept")

REPLAY_MAP = """
_G.soak_texts = {}
vim.keymap.set('i', '<F12>', function()
  vim.api.nvim_paste(table.remove(_G.soak_texts, 1), false, -1)
end)
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
    batches: list[list[str]] = field(default_factory=list)  # keys sent in one input call
    calls: list[str | bool] = field(default_factory=list)  # each accept key: text or False
    start: dict[str, float] = field(default_factory=dict)  # engine report after warm-up
    end: dict[str, float] = field(default_factory=dict)  # and after the session
    engines: int = 0  # engine processes at the end


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


def batches(keys: Iterator[str], seed: int) -> Iterator[list[str]]:
    """Keys as they arrive over ssh or tmux, from a mapping or a macro: half of them alone,
    the rest two to four in one input call (no autocmd runs between those)."""
    rng = random.Random(seed + 1)
    pending = list(keys)
    while pending:
        size = 1 if rng.random() < 0.5 else rng.randint(2, 4)
        yield pending[:size]
        pending = pending[size:]


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
        take = random.Random(seed + 2)
        accept_next = False
        for index, batch in enumerate(batches(script(count, seed), seed)):
            if accept_next:  # a suggestion is on screen: half the time, take it first
                batch = [take.choice(ACCEPT_KEYS), *batch]
            if index == 30:
                session.start = engine_report(ed, 900_001)
            if index == 60:
                ed.lua(ODD_SETUP, fake.url)
            before = int(ed.lua("return #soak.calls"))
            ed.nvim.input("".join(batch))
            settle(ed)
            session.batches.append(batch)
            calls = list(ed.lua("return vim.list_slice(soak.calls, ...)", before + 1))
            wanted = sum(key in ACCEPT_KEYS for key in batch)
            assert len(calls) == wanted, f"batch {batch}: {len(calls)} accept calls"
            session.calls.extend(calls)
            accept_next = False
            if index % 3 == 0:
                answered(ed)  # now and then let a suggestion arrive
                accept_next = take.random() < 0.5 and bool(ed.lua(
                    "return require('llama_coder').is_visible()"))
            check_ghost(ed)
        ed.nvim.input("<Esc>")
        settle(ed)
        session.end = engine_report(ed, 900_002)
        session.engines = engine_processes(ed)
    return session, buffers(ed), ed, fake


def answered(ed: Editor, timeout: float = 1.0) -> None:
    """Wait (at most ``timeout``) until no request is scheduled or in flight."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and ed.lua("return require('llama_coder.trigger').busy()"):
        time.sleep(0.005)


def engine_processes(ed: Editor) -> int:
    """Engine processes started by this Neovim that still run."""
    nvim_pid = int(ed.nvim.call("getpid"))
    count = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == nvim_pid and b"llama_coder.host" in cmdline:
            count += 1
    return count


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
    """A visible ghost is in the current window, at the cursor, in Insert mode."""
    state = ed.lua("local s = require('llama_coder.suggestion').shown "
                   "if not s or not require('llama_coder.ghost').is_drawn() then return nil end "
                   "local p = s.place local c = vim.api.nvim_win_get_cursor(0) "
                   "return {p.win == vim.api.nvim_get_current_win(), "
                   "p.buf == vim.api.nvim_get_current_buf(), p.row == c[1] - 1, "
                   "p.col == c[2], vim.api.nvim_get_mode().mode}")
    if state is not None:
        assert state[:4] == [True, True, True, True], f"stale ghost: {state}"


def buffers(ed: Editor) -> dict[str, list[str]]:
    return {Path(b.name).name: list(b[:]) for b in ed.nvim.buffers if b.name}


def replay(session: Session, folder: Path) -> dict[str, list[str]]:
    """The same batches in a Neovim without the plugin, each accepted text pasted by <F12>
    where its key was; accept keys that found no suggestion do what they do in Neovim."""
    ed = Editor(None)
    try:
        ed.lua(REPLAY_MAP)
        calls = iter(session.calls)
        with two_buffers(ed, folder):
            ed.type("Gi")
            for batch in session.batches:
                keys, texts = [], []
                for key in batch:
                    text = next(calls) if key in ACCEPT_KEYS else False
                    if isinstance(text, str):
                        keys.append("<F12>")
                        texts.append(text)
                    else:
                        keys.append(key)
                if texts:
                    ed.lua("_G.soak_texts = ...", texts)
                ed.nvim.input("".join(keys))
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
    return {"on": on, "off": off, "accepted": sum(isinstance(c, str) for c in session.calls),
            "log": log, "messages": messages, "pid": pid, "requests": len(fake.completions()),
            "start": session.start, "end": session.end, "engines": session.engines}


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
            and not any(ok in line for ok in FAULT_MESSAGES + ODD_SETUP_MESSAGES)]


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
          f"engine processes: {result['engines']}, "
          f"engine {result['start']} -> {result['end']}, {time.monotonic() - started:.0f} s")
    ok = (same and not bad and not leaked and result["engines"] == 1
          and "Traceback" not in str(result["log"]))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
