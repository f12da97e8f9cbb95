"""Figure 11: a team on one server.

Eight simulated editors type eight different files of the Python standard library at
the same time against one llama-server started with ``--parallel 4`` (SmolLM2-135M on
this machine's cores). No Neovim: each editor is a small script in one asyncio loop
that does per key what the shipped plugin does (lua/llama_coder/trigger.lua and
suggestion.lua, controller.py) and drives its own :class:`Completer`, as each Neovim has
its own engine process:

- a key that types through the suggestion on screen only trims it; any other key
  forgets the suggestion, cancels the request in flight and restarts the debounce;
- ``delay`` ms after the last key a request is sent; at most one request per editor is
  in flight: a new one stops the previous one and waits for it to unwind;
- a result is shown only if no key came since its request was sent;
- the engine's in-memory cache answers repeated prompts; prefetch is off (see
  :func:`team`).

With cancellation disabled the same scripts run, but a superseded request is never
cancelled: it runs to its end (its result discarded) and the editor's next request
starts once it has ended, as the controller's one-request rule has it.
"""

from __future__ import annotations

import asyncio
import os
import re
import statistics
import sysconfig
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.figures import _session_keys
from bench.stats import summary
from devtools import llama_server
from llama_coder.completer import Completer, Completion
from llama_coder.core.config import parse_config
from llama_coder.core.errors import LlamaCoderError
from llama_coder.core.prompt import Snapshot

EDITORS = 8
PARALLEL = 4
DELAY_MS = 150  # as figures 2 and 4, so the time to ghost compares with figure 2
# At every third line end (a different third per editor) the typist waits for the
# suggestion before pressing Enter, as figure 2 does, then reads it for the pause;
# at the other line ends they pause 0.3-0.6 s after Enter (figure 4's typing).
WAIT_EVERY = 3
# As figure 2, a wait ends after this long; such a wait counts as this long in the
# percentiles (it took at least that), a result with nothing to show is left out.
WAIT_CAP_S = 20.0
# Eight standard library modules, typed from their first top-level def or class.
FILES = ("textwrap", "shlex", "fnmatch", "bisect", "heapq", "colorsys", "glob", "base64")
MODES = ("cancel", "no-cancel")


@dataclass(frozen=True)
class Key:
    text: str  # what the key inserts ("\n" plus the next line's indent for Enter)
    gap: float  # seconds before the next key
    wait: bool = False  # the typist waits for a suggestion after this key


def script(source: str, keys: int, seed: int, phase: int) -> list[Key]:
    """Figure 4's typing (:func:`bench.figures._session_keys`) as buffer edits. Enter
    inserts the next line's indent, as the editor's indenting would, so the buffer is
    always the start of the real file. At every :data:`WAIT_EVERY`-th line end (from
    ``phase``) the pause moves before Enter and becomes a wait for the suggestion."""
    lines = source.splitlines()
    out: list[Key] = []
    line = 0
    # [:keys]: _session_keys gives one key more when a line end falls on the limit.
    for name, gap in _session_keys(source, keys, seed)[:keys]:
        if name != "<CR>":
            out.append(Key("<" if name == "<lt>" else name, gap))
            continue
        line += 1
        indent = lines[line][: len(lines[line]) - len(lines[line].lstrip())] \
            if line < len(lines) else ""
        if out and line % WAIT_EVERY == phase % WAIT_EVERY:
            last = out.pop()
            out += [Key(last.text, gap, wait=True), Key("\n" + indent, last.gap)]
        else:
            out.append(Key("\n" + indent, gap))
    return out


def source_of(module: str) -> str:
    """A standard library module's text from its first top-level def or class."""
    text = (Path(sysconfig.get_paths()["stdlib"]) / f"{module}.py").read_text(encoding="utf-8")
    start = re.search(r"^(def|class) ", text, re.MULTILINE)
    return text[start.start():] if start else text


@dataclass
class Sent:
    """One request the engine sent or answered from its cache."""

    sent: float
    ended: float = 0.0
    from_cache: bool = False
    cancelled: bool = False  # its cancel event was set (a newer key or request)
    discarded: bool = False  # ran to its end, but a key had come since: never shown
    error: str = ""


@dataclass
class Running:
    key_no: int  # the key it answers
    cancel: asyncio.Event
    task: asyncio.Task[None]


@dataclass
class Outcome:
    times_ms: list[float] = field(default_factory=list)  # key before a wait -> ghost
    # (or WAIT_CAP_S when none came in time)
    waits: int = 0
    nothing: int = 0  # the model had nothing worth showing
    failed: int = 0  # an error (a timeout of the engine's own) instead of a result
    timed_out: int = 0  # no answer within WAIT_CAP_S
    sent: list[Sent] = field(default_factory=list)


class TypingEditor:
    """One editor: a buffer typed at its end, the debounce, the request in flight and
    the suggestion on screen."""

    def __init__(self, completer: Completer, path: str, keys: list[Key], cancelling: bool,
                 delay: float = DELAY_MS / 1000) -> None:
        self.completer = completer
        self.path = path
        self.keys = keys
        self.cancelling = cancelling
        self.delay = delay
        self.text = ""
        self.key_no = 0
        self.key_at = 0.0
        self.ghost: str | None = None
        self.failed = False  # the latest result was an error
        self.shown_at = 0.0
        self.answered = asyncio.Event()  # a result for the latest key came
        self.timer: asyncio.TimerHandle | None = None
        self.current: Running | None = None
        self.tasks: list[asyncio.Task[None]] = []
        self.outcome = Outcome()

    async def type_all(self) -> None:
        for key in self.keys:
            self.press(key.text)
            if key.wait:
                await self.wait_for_suggestion()
            await asyncio.sleep(key.gap)

    async def wait_for_suggestion(self) -> None:
        self.outcome.waits += 1
        try:
            await asyncio.wait_for(self.answered.wait(), WAIT_CAP_S)
        except asyncio.TimeoutError:
            self.outcome.timed_out += 1  # counted as the cap: at least that long
            self.outcome.times_ms.append(WAIT_CAP_S * 1000)
            return
        if self.failed:
            self.outcome.failed += 1
        elif self.ghost is None:
            self.outcome.nothing += 1
        else:
            self.outcome.times_ms.append((self.shown_at - self.key_at) * 1000)

    def press(self, text: str) -> None:
        self.text += text
        self.key_no += 1
        self.key_at = time.monotonic()
        self.answered.clear()
        if self.ghost is not None and "\n" not in text and self.ghost.startswith(text) \
                and self.ghost[len(text):].strip():
            self.ghost = self.ghost[len(text):]  # typed through: no request, and
            self.shown_at = self.key_at  # the rest is on screen at once
            self.answered.set()
            return
        self.ghost = None
        if self.current is not None and self.cancelling:
            self.current.cancel.set()  # Lua's cancel_request on every other key
        if self.timer is not None:
            self.timer.cancel()
        self.timer = asyncio.get_running_loop().call_later(self.delay, self.fire)

    def fire(self) -> None:
        self.timer = None
        previous, cancel = self.current, asyncio.Event()
        task = asyncio.get_running_loop().create_task(
            self.run(self.key_no, self.snapshot(), cancel, previous))
        self.current = Running(self.key_no, cancel, task)
        self.tasks.append(task)

    def snapshot(self) -> Snapshot:
        """The buffer as trigger.lua sends it: from 2 * prefix_lines above the cursor,
        which is at the end of the text typed so far."""
        lines = self.text.split("\n")
        row = len(lines) - 1
        first = max(0, row - 2 * self.completer.config.context.prefix_lines)
        return Snapshot(lines[first:], first, row, len(lines[-1]), self.path, "python")

    async def run(self, key_no: int, snapshot: Snapshot, cancel: asyncio.Event,
                  previous: Running | None) -> None:
        if previous is not None:
            if self.cancelling:  # the controller's rule: stop it, let it unwind
                previous.cancel.set()
                previous.task.cancel()
            await asyncio.wait({previous.task})
        if cancel.is_set():
            return
        sent = Sent(time.monotonic())
        self.outcome.sent.append(sent)
        completion: Completion | None = None

        def lines(text: str) -> None:
            """ui.line_by_line (the default): the first line is on screen as it comes."""
            if key_no == self.key_no and not cancel.is_set():
                self.ghost = text
                if not self.answered.is_set():
                    self.failed = False
                    self.shown_at = time.monotonic()
                    self.answered.set()

        try:
            completion = await self.completer.complete(snapshot, cancel, on_lines=lines)
        except LlamaCoderError as exc:
            sent.error = type(exc).__name__
        finally:
            sent.ended = time.monotonic()
            sent.cancelled = cancel.is_set()
            if self.current is not None and self.current.key_no == key_no:
                self.current = None
        sent.from_cache = completion is not None and completion.from_cache
        if sent.cancelled:
            return
        if key_no != self.key_no:
            sent.discarded = True  # the editor moved on: Lua drops it
            return
        self.ghost = completion.text if completion is not None else None
        self.failed = completion is None
        if not self.answered.is_set():  # else its first line was shown before
            self.shown_at = time.monotonic()
            self.answered.set()


async def _session(url: str, scripts: Sequence[list[Key]], cancelling: bool
                   ) -> tuple[list[Outcome], float]:
    config = parse_config({"backend": "llamacpp", "endpoint": url, "prefetch": False,
                           "delay": DELAY_MS}).config
    completers = [Completer(config, environ={}) for _ in scripts]
    try:
        for completer in completers:
            await completer.check_model()  # as the controller does before the first request
        editors = [TypingEditor(completer, f"{FILES[i]}.py", keys, cancelling)
                   for i, (completer, keys) in enumerate(zip(completers, scripts, strict=True))]
        started = time.monotonic()
        await asyncio.gather(*(editor.type_all() for editor in editors))
        typed = time.monotonic() - started
        for editor in editors:  # requests still running (without cancelling) end here
            if editor.timer is not None:
                editor.timer.cancel()
            await asyncio.gather(*editor.tasks, return_exceptions=True)
        return [editor.outcome for editor in editors], typed
    finally:
        for completer in completers:
            await completer.aclose()


def _busy_wall(sent: Sequence[Sent]) -> float:
    """Seconds during which at least one request was open at the server."""
    total, end = 0.0, float("-inf")
    for s in sorted((s for s in sent if not s.from_cache), key=lambda s: s.sent):
        if s.ended > end:
            total += s.ended - max(s.sent, end)
            end = s.ended
    return total


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait_idle(server: llama_server.LlamaServer, timeout: float = 60) -> dict[str, float]:
    """The counters once no request is processing (a cancelled one ends at the next
    decoding step)."""
    deadline = time.monotonic() + timeout
    while True:
        metrics = server.metrics()
        if metrics.get("requests_processing", 0) == 0 or time.monotonic() > deadline:
            return metrics
        time.sleep(0.1)


def one_run(scripts: Sequence[list[Key]], cancelling: bool) -> dict[str, Any]:
    """A fresh server (empty KV caches) and fresh engines, all editors typing at once."""
    with tempfile.TemporaryDirectory() as tmp, llama_server.running(
            llama_server.smollm2_path(), Path(tmp) / "server.log",
            llama_server.server_args(PARALLEL, metrics=True)) as server:
        before, cpu_before = server.metrics(), cpu_seconds(server.process.pid)
        outcomes, typed = asyncio.run(_session(server.url, scripts, cancelling))
        after = _wait_idle(server)
        cpu = cpu_seconds(server.process.pid) - cpu_before
        log = server.log_text()

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    keys = sum(len(s) for s in scripts)
    per = 100 / keys
    sent = [s for o in outcomes for s in o.sent]
    to_server = [s for s in sent if not s.from_cache]
    times = [t for o in outcomes for t in o.times_ms]
    return {
        "keys": keys, "typing_s": round(typed, 1),
        "time_to_ghost_ms": summary(times),
        "waits": sum(o.waits for o in outcomes),
        "nothing": sum(o.nothing for o in outcomes),
        "timed_out": sum(o.timed_out for o in outcomes),
        "failed": sum(o.failed for o in outcomes),
        "server_cpu_s_per_100": cpu * per,
        "slot_prompt_s_per_100": delta("prompt_seconds_total") * per,
        "slot_predicted_s_per_100": delta("tokens_predicted_seconds_total") * per,
        "busy_wall_s_per_100": _busy_wall(sent) * per,
        "requests_per_100": len(to_server) * per,
        "cache_hits_per_100": (len(sent) - len(to_server)) * per,
        "cancelled_per_100": sum(s.cancelled for s in to_server) * per,
        "discarded_per_100": sum(s.discarded for s in to_server) * per,
        "errors": sum(bool(s.error) for s in sent),
        "server_tasks_per_100": log.count("processing task") * per,
        "server_cancels_per_100": log.count("cancel task") * per,
        "tokens_generated_per_100": delta("tokens_predicted_total") * per,
        "prompt_tokens_evaluated_per_100": delta("prompt_tokens_total") * per,
    }


def _spread(runs: Sequence[dict[str, Any]], get: Any) -> dict[str, float]:
    values = [float(get(r)) for r in runs]
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def team(keys: int = 300, rounds: int = 4) -> dict[str, Any]:
    """Each mode ``rounds`` times, alternating (cancel, no-cancel, then no-cancel, cancel,
    ...) so a drift of the machine's speed favours neither; ``keys`` per editor.

    Prefetch is off: its own cancelling lives in prefetch.py and cannot be switched off
    without changing the plugin, so the no-cancel row could not leave it out; figure 8
    measures it alone."""
    scripts = [script(source_of(module), keys, seed=100 + i, phase=i)
               for i, module in enumerate(FILES[:EDITORS])]
    runs: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for round_no in range(rounds):
        for mode in MODES if round_no % 2 == 0 else MODES[::-1]:
            runs[mode].append(one_run(scripts, cancelling=mode == "cancel"))
    result: dict[str, Any] = {"editors": EDITORS, "parallel": PARALLEL,
                              "keys_per_editor": keys, "delay_ms": DELAY_MS, "runs": runs}
    for mode, rs in runs.items():
        result[mode] = {
            "p50_ms": _spread(rs, lambda r: r["time_to_ghost_ms"]["median"]),
            "p90_ms": _spread(rs, lambda r: r["time_to_ghost_ms"]["p90"]),
            "server_cpu_s_per_100": _spread(rs, lambda r: r["server_cpu_s_per_100"]),
            "tokens_per_100": _spread(rs, lambda r: r["tokens_generated_per_100"]),
            "n": sum(r["time_to_ghost_ms"]["n"] for r in rs),
            "waits": sum(r["waits"] for r in rs),
            "nothing": sum(r["nothing"] for r in rs),
            "timed_out": sum(r["timed_out"] for r in rs),
            "failed": sum(r["failed"] for r in rs),
        }
    return result
