"""The benchmark figures, each in a real Neovim 0.11.4 with the plugin loaded."""

from __future__ import annotations

import contextlib
import random
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import instrument
from bench.stats import summary
from devtools import llama_server
from tests.e2e.harness import INIT, ROOT, Editor, split_keys
from tests.fakes.backends import OllamaFake

NS = 1e9
# Figures that time one request per keystroke ask the fake for exactly that: without
# prefetch, whose extra requests figure 8 measures on its own.
SINGLE = {"prefetch": False}


@contextlib.contextmanager
def editor(opts: dict[str, Any], setup: bool = True) -> Iterator[Editor]:
    ed = Editor(opts if setup else None)  # None: the same Neovim, setup() never called
    instrument.install(ed)
    try:
        yield ed
    finally:
        ed.close()


def wait_shown(ed: Editor, count: int, timeout: float, poll: float = 0.02) -> bool:
    """Timestamps come from Neovim, so polling rarely (``poll`` s) perturbs less."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if instrument.shown_count(ed) >= count:
            return True
        time.sleep(poll)
    return False


def _overhead_samples(fake: OllamaFake, ed: Editor, triggers: int, delay_ms: int) -> list[float]:
    """Keystroke -> ghost, minus the delay and the server's own time, in ms."""
    samples = []
    for i in range(triggers):
        before = len(fake.completions())
        shown = instrument.shown_count(ed)
        ed.nvim.input("q")  # never the suggestion's first character: a new request
        if not wait_shown(ed, shown + 1, 10):
            continue
        key = instrument.last_key_ns(ed) / NS
        ghost = instrument.last_shown_ns(ed) / NS
        requests = fake.completions()[before:]
        if len(requests) != 1 or requests[0].finished_at is None:
            continue
        server = requests[0].finished_at - requests[0].received_at
        samples.append((ghost - key - delay_ms / 1000 - server) * 1000)
        if i % 50 == 49:
            ed.nvim.input("<CR>")  # keep lines short
            wait_settled(ed)
    return samples


def wait_settled(ed: Editor, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not ed.lua("return require('llama_coder.trigger').busy()"):
            return
        time.sleep(0.02)


def plugin_overhead(triggers: int = 200, delay_ms: int = 10) -> dict[str, Any]:
    with OllamaFake(tokens=["x", " = ", "1"]) as fake, tempfile.TemporaryDirectory() as tmp, \
            editor({"backend": "ollama", "endpoint": fake.url, "delay": delay_ms, **SINGLE}) as ed:
        ed.edit(Path(tmp) / "a.py", "def f(x):\n    return x\n")
        ed.type("Go")
        wait_settled(ed)
        _overhead_samples(fake, ed, 10, delay_ms)  # warm-up: engine start, imports, model check
        samples = _overhead_samples(fake, ed, triggers, delay_ms)
    return {"overhead_ms": summary(samples)}


def scale(triggers: int = 60, delay_ms: int = 10) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for size in (100, 10_000, 100_000):
        text = "".join(f"value_{i} = compute({i}, {i % 7})\n" for i in range(size))
        with OllamaFake(tokens=["x"]) as fake, tempfile.TemporaryDirectory() as tmp, \
                editor({"backend": "ollama", "endpoint": fake.url, "delay": delay_ms,
                        **SINGLE}) as ed:
            ed.edit(Path(tmp) / "big.py", text)
            ed.nvim.command(f"normal! {size // 2}G")
            ed.type("o")
            wait_settled(ed)
            _overhead_samples(fake, ed, 10, delay_ms)
            samples = _overhead_samples(fake, ed, triggers, delay_ms)
        result[str(size)] = summary(samples)
    base = result["100"]["median"]
    result["ratio_100k_to_100"] = result["100000"]["median"] / base if base > 0 else float("nan")
    return result


def _session_keys(source: str, keys: int, seed: int) -> list[tuple[str, float]]:
    """Insert-mode typing of real code: 30-80 ms per key, a pause at each line end."""
    rng = random.Random(seed)
    out: list[tuple[str, float]] = []
    for line in source.splitlines():
        for ch in line.lstrip():
            out.append(("<lt>" if ch == "<" else ch, rng.uniform(0.03, 0.08)))
            if len(out) >= keys:
                return out
        out.append(("<CR>", rng.uniform(0.3, 0.6)))  # pause at the line end
    return out[:keys]


def _replay(ed: Editor, script: list[tuple[str, float]]) -> None:
    """Type ``script``'s keys with its gaps after each, as a person would."""
    for key, gap in script:
        ed.nvim.input(key)
        time.sleep(gap)


def typing_cost(keys: int = 2000, rounds: int = 2, delay_ms: int = 150,
                warmup: int = 100) -> dict[str, Any]:
    """Neovim's busy time for the same keys, plugin on vs off, alternating runs.

    Rounds run on/off then off/on (ABBA), so a drift of the machine's speed during
    the benchmark does not favour either side. Each run first types ``warmup`` keys
    of other code that are not counted (the same in both modes): with the plugin on,
    that is where the engine starts, a one-time cost of opening Neovim.
    """
    source = (ROOT / "rplugin/python3/llama_coder/core/stopper.py").read_text() * 4
    script = _session_keys(source, keys, seed=7)
    warm = _session_keys((ROOT / "rplugin/python3/llama_coder/core/cache.py").read_text(),
                         warmup, seed=3)
    busy: dict[str, list[float]] = {"on": [], "off": []}
    wasted: dict[str, Any] = {}
    for round_no in range(rounds):
        for mode in ("on", "off") if round_no % 2 == 0 else ("off", "on"):
            with OllamaFake(tokens=["for", " x", " in", " y", ":"], delay=0.02) as fake, \
                    tempfile.TemporaryDirectory() as tmp, \
                    editor({"backend": "ollama", "endpoint": fake.url, "delay": delay_ms,
                            "keymap": {"accept": False}}, setup=mode == "on") as ed:
                ed.edit(Path(tmp) / "s.py", "")
                ed.nvim.command("set autoindent")
                ed.type("i")
                _replay(ed, warm)
                ed.nvim.input("<CR>")
                wait_settled(ed)
                instrument.reset(ed)
                before = len(fake.completions())
                if mode == "on":
                    ed.lua("require('llama_coder.suggestion').dropped = 0")
                _replay(ed, script)
                wait_settled(ed)
                data = instrument.get(ed)
                busy[mode].append(data["busy_ns"] / 1e6)
                if mode == "on" and round_no == 0:
                    wasted = _wasted(fake, ed, len(script), before)
    on, off = sum(busy["on"]), sum(busy["off"])
    return {"keys": len(script), "warmup_keys": len(warm), "busy_ms_on": busy["on"],
            "busy_ms_off": busy["off"], "ratio": on / off if off else float("nan"),
            "round_ratios": [a / b for a, b in zip(busy["on"], busy["off"], strict=True)],
            "wasted": wasted}


def _wasted(fake: OllamaFake, ed: Editor, keys: int, skip: int = 0) -> dict[str, float]:
    """Per 100 keys; ``skip``: requests before the counted keys (the warm-up's)."""
    requests = fake.completions()[skip:]
    cancelled = [r for r in requests if r.disconnected_at is not None]
    shown = instrument.shown_count(ed)
    dropped = int(ed.lua("return require('llama_coder.suggestion').dropped"))
    tokens_unseen = sum(r.pieces_sent for r in cancelled)
    per = 100 / keys
    return {"requests": len(requests) * per, "cancelled": len(cancelled) * per,
            "tokens_never_shown": tokens_unseen * per, "results_dropped": dropped * per,
            "ghosts_shown": shown * per}


def typing_through_and_cache(samples: int = 100) -> dict[str, Any]:
    through: list[float] = []
    cached: list[float] = []
    long_answer = ["abcdefghijklmnopqrstuvwxyz" * 8]
    with OllamaFake(tokens=long_answer) as fake, tempfile.TemporaryDirectory() as tmp, \
            editor({"backend": "ollama", "endpoint": fake.url, "delay": 10, **SINGLE}) as ed:
        ed.edit(Path(tmp) / "a.py", "")
        ed.type("o")
        for _ in range(samples // 50 + 1):
            ed.nvim.input("<CR>z")
            wait_settled(ed)
            wait_shown(ed, 1, 10)
            suggestion = ed.suggestion() or ""
            for ch in suggestion[:50]:
                shown = instrument.shown_count(ed)
                ed.nvim.input(ch)
                if wait_shown(ed, shown + 1, 5):
                    through.append((instrument.last_shown_ns(ed) - instrument.last_key_ns(ed))
                                   / 1e6)
        # Cache hits: a new character (request), then back (the cached prompt again).
        for _ in range(samples):
            shown = instrument.shown_count(ed)
            ed.nvim.input("Q")
            wait_shown(ed, shown + 1, 5)
            wait_settled(ed)
            shown = instrument.shown_count(ed)
            before = len(fake.completions())
            ed.nvim.input("<BS>")
            if wait_shown(ed, shown + 1, 5) and len(fake.completions()) == before:
                cached.append((instrument.last_shown_ns(ed) - instrument.last_key_ns(ed)) / 1e6
                              - 10)  # minus the delay
            wait_settled(ed)
    return {"typing_through_ms": summary(through[:samples]),
            "cache_hit_ms": summary(cached)}


def memory(completions: int = 10_000) -> dict[str, Any]:
    with OllamaFake(tokens=["x"]) as fake, tempfile.TemporaryDirectory() as tmp, \
            editor({"backend": "ollama", "endpoint": fake.url, "delay": 0, **SINGLE}) as ed:
        ed.edit(Path(tmp) / "a.py", "")
        ed.type("o")
        wait_settled(ed)
        _overhead_samples(fake, ed, 5, 0)
        pid = int(ed.lua("return vim.fn.jobpid(require('llama_coder.engine').chan)"))
        start = _rss_mb(pid)
        done = 0
        while done < completions:
            shown = instrument.shown_count(ed)
            ed.nvim.input("q" if done % 80 else "<CR>q")
            if wait_shown(ed, shown + 1, 5, poll=0.001):
                done += 1
        end = _rss_mb(pid)
    return {"rss_start_mb": start, "rss_end_mb": end, "growth_mb": end - start,
            "completions": completions}


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_after_keys(ed: Editor, which: str, keys: int, timeout: float) -> float | None:
    """ms from the last of ``keys`` keys to the first ``which`` ("shown": ghost text on
    screen, "final": streamed in whole) after it; None if none came within ``timeout``
    s, or none is awaited any more (the final text was dropped: it said no to what
    streamed in, or fitted no more)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = instrument.since_last_key(ed, which, keys)
        if found is not None:
            return found
        if (instrument.key_count(ed) >= keys
                and not ed.lua("return require('llama_coder.trigger').busy()")):
            return instrument.since_last_key(ed, which, keys)
        time.sleep(0.02)
    return None


def _spread(per_run: list[dict[str, float]]) -> list[float]:
    return [r["median"] for r in per_run if r["n"]]


def real_model(pauses: int = 40, rounds: int = 3, delay_ms: int = 150) -> dict[str, Any]:
    """llama-server + SmolLM2: retype real code line by line, pausing at each line end.

    At each pause: the first visible ghost text (with ``ui.line_by_line``, the default,
    the suggestion's first line) and the whole suggestion (streamed in whole), both from
    the key before the pause. ``rounds`` Neovims (one server) give the run-to-run spread.
    """
    source = (ROOT / "rplugin/python3/llama_coder/core/cache.py").read_text()
    lines = [ln for ln in source.splitlines() if ln.strip()][:pauses]
    first: list[float] = []
    whole: list[float] = []
    ours: list[float] = []
    first_runs: list[dict[str, float]] = []
    whole_runs: list[dict[str, float]] = []
    prompt_tokens = cached_tokens = 0
    missed = whole_missed = 0
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with llama_server.running(llama_server.smollm2_path(), log) as server:
            for round_no in range(rounds):
                run_first: list[float] = []
                run_whole: list[float] = []
                with editor({"backend": "llamacpp", "endpoint": server.url,
                             "delay": delay_ms}) as ed:
                    ed.edit(Path(tmp) / f"cache_{round_no}.py", "")
                    ed.nvim.command("set noautoindent")
                    ed.type("i")
                    for n, line in enumerate(lines):
                        keys = instrument.key_count(ed) + len(line) + (1 if n else 0)
                        if n:
                            ed.nvim.input("<CR>")
                        ed.nvim.input(line.replace("<", "<lt>"))
                        seen = wait_after_keys(ed, "shown", keys, 20)
                        elapsed = None if seen is None else wait_after_keys(ed, "final", keys, 20)
                        if seen is None:
                            missed += 1
                        else:
                            run_first.append(seen)
                            whole_missed += int(elapsed is None)
                        if elapsed is None:
                            wait_settled(ed)
                            continue
                        run_whole.append(elapsed)
                        stats = ed.lua("return require('llama_coder.suggestion')"
                                       ".last_result.stats") or {}
                        if stats.get("prompt_tokens") is not None:
                            prompt_tokens += stats["prompt_tokens"] or 0
                            cached_tokens += stats.get("cached_tokens") or 0
                        server_ms = (stats.get("prompt_ms") or 0) + (stats.get("predicted_ms") or 0)
                        ours.append(elapsed - server_ms - delay_ms)
                        wait_settled(ed)
                first += run_first
                whole += run_whole
                first_runs.append(summary(run_first))
                whole_runs.append(summary(run_whole))
    total = prompt_tokens + cached_tokens
    return {"delay_ms": delay_ms, "rounds": rounds,
            "first_visible_ms": summary(first), "whole_ms": summary(whole),
            "first_visible_run_medians": _spread(first_runs),
            "whole_run_medians": _spread(whole_runs),
            "ours_ms": summary(ours),
            "cache_share": cached_tokens / total if total else float("nan"),
            "prompt_tokens": prompt_tokens, "cached_tokens": cached_tokens, "missed": missed,
            "whole_missed": whole_missed}


WARM_OFF = "\nrequire('llama_coder.trigger').warm_soon = function() end\n"


def _fresh_files(count: int) -> list[Path]:
    """Real source files of this project, distinct per run: the server's prompt cache
    has never seen the first prompt of a run (so each run is a first visit)."""
    found = sorted(p for p in (ROOT / "rplugin/python3/llama_coder").rglob("*.py")
                   if len(p.read_text().splitlines()) >= 80)
    found += sorted(p for p in (ROOT / "tests").rglob("*.py")
                    if len(p.read_text().splitlines()) >= 80)
    return [found[i % len(found)] for i in range(count)]


def _fresh_run(server_url: str, path: Path, tmp: Path, warm: bool,
               think: float, gap: float) -> dict[str, Any]:
    """One new Neovim: open ``path`` (one line of its middle taken out), wait ``think``
    s, then open a line there and type the taken line's first characters, then pause."""
    lines = path.read_text().splitlines()
    middle = len(lines) // 2
    row = next((i for i in range(middle, len(lines)) if len(lines[i].strip()) >= 12
                and not lines[i].strip().startswith(("#", '"', "'"))), middle)
    typed = lines[row].strip()[:5].replace("<", "<lt>")
    text = "\n".join(lines[:row] + lines[row + 1:]) + "\n"
    init = INIT + WARM_OFF if not warm else INIT
    ed = Editor({"backend": "llamacpp", "endpoint": server_url}, init_lua=init)
    instrument.install(ed)
    try:
        target = tmp / path.name
        target.write_text(text, encoding="utf-8")
        ed.nvim.command(f"cd {tmp}")
        # Opened at the place (as from a search, a jump list or a restored cursor): the
        # warm-up is for where the cursor is once Neovim is idle after BufEnter.
        ed.nvim.command(f"edit +{row} {target.name}")
        time.sleep(think)  # a human moment: reading where to type
        keys = instrument.key_count(ed) + 1 + len(split_keys(typed))
        ed.nvim.input("o")
        ed.type(typed, gap=gap)
        out: dict[str, Any] = {"file": path.name, "typed": typed,
                               "first_ms": wait_after_keys(ed, "shown", keys, 30)}
        if out["first_ms"] is not None:
            out["whole_ms"] = wait_after_keys(ed, "final", keys, 30)
            wait_settled(ed, 30)
            stats = ed.lua("local r = require('llama_coder.suggestion').last_result"
                           " return r and r.stats or vim.NIL") or {}
            out.update({k: stats.get(k) for k in ("prompt_tokens", "cached_tokens",
                                                   "prompt_ms", "predicted_ms")})
        out["warms"] = instrument.warms(ed)
        return out
    finally:
        ed.close()


def fresh_start(runs: int = 10, think: float = 1.0, gap: float = 0.08) -> dict[str, Any]:
    """llama-server + SmolLM2 running and warm; each run a new Neovim (plugin defaults)
    opens a real source file it has not opened before, waits ``think`` s, types a few
    keys ``gap`` s apart and pauses: key before the pause -> first visible ghost text.
    Warm start on and off (``trigger.warm_soon`` replaced by a no-op in the benchmark's
    init file: the product has no option for it), alternating ABBA."""
    files = _fresh_files(2 * runs + 1)
    result: dict[str, Any] = {"think_s": think}
    samples: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with llama_server.running(llama_server.smollm2_path(), log) as server:
            # Not counted: the server's first request, OS caches for Neovim and Python.
            _fresh_run(server.url, files[0], Path(tmp), True, think, gap)
            for i in range(runs):
                for j, mode in enumerate(("on", "off") if i % 2 == 0 else ("off", "on")):
                    run_dir = Path(tmp) / f"run{i}{mode}"
                    run_dir.mkdir()
                    samples[mode].append(_fresh_run(server.url, files[1 + 2 * i + j], run_dir,
                                                    mode == "on", think, gap))
    # The server's prompt evaluation speed meanwhile (runs that evaluated a whole prompt):
    # on a shared machine it varies, and the first suggestion waits for it.
    speeds = [r["prompt_tokens"] / r["prompt_ms"] * 1000 for m in samples.values() for r in m
              if (r.get("prompt_tokens") or 0) >= 100 and r.get("prompt_ms")]
    result["prompt_tokens_per_s"] = summary(speeds)
    for mode, runs_of in samples.items():
        firsts = [r["first_ms"] for r in runs_of if r.get("first_ms") is not None]
        wholes = [r["whole_ms"] for r in runs_of if r.get("whole_ms") is not None]
        result[mode] = {"first_ms": summary(firsts), "whole_ms": summary(wholes),
                        "first_range_ms": [min(firsts), max(firsts)] if firsts else [],
                        "missed": len(runs_of) - len(firsts),
                        "warms": sum(r["warms"] for r in runs_of), "runs": runs_of}
    return result


def _warmups_in_log(text: str) -> tuple[int, int]:
    """Warm-ups llama-server finished (n_predict 0: its log reports one token "generated"
    in 0.00 ms) and their prompt tokens evaluated."""
    prompt: dict[str, int] = {}
    count = tokens = 0
    for match in re.finditer(r"task (\d+) \| prompt eval time = +[\d.]+ ms / +(\d+) tokens",
                             text):
        prompt[match.group(1)] = int(match.group(2))
    for match in re.finditer(r"task (\d+) \| +eval time = +0\.00 ms / +1 tokens", text):
        count += 1
        tokens += prompt.get(match.group(1), 0)
    return count, tokens


def wasted_real(keys: int = 600, rounds: int = 3, code: bool = False) -> dict[str, Any]:
    """Figure 4 against llama-server + SmolLM2: a typing session at 30-80 ms per key
    with pauses at line ends, plugin defaults (warm start included: the opened file is
    warmed). The server's own counters (--metrics) give the tokens it evaluated and
    generated, cancelled requests and warm-ups included; its log counts the requests
    it started (warm-ups too) and the ones cancelled. ``rounds`` sessions (a new server
    and Neovim each) give the run-to-run spread; the figures are their medians.

    The session types the start of ``core/stopper.py``, which is its module docstring:
    prose, where a suggestion is one line. ``code``: the code after the docstring
    instead, where pauses at line ends ask for blocks."""
    source = (ROOT / "rplugin/python3/llama_coder/core/stopper.py").read_text()
    if code:
        source = source.split('\n"""\n', 1)[1]
    script = _session_keys(source, keys, seed=11)
    per = 100 / len(script)
    sessions: list[dict[str, float]] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            log = Path(tmp) / "server.log"
            with llama_server.running(llama_server.smollm2_path(), log,
                                      (*llama_server.DEFAULT_ARGS, "--metrics")) as server:
                before, log_before = server.metrics(), len(server.log_text())
                with editor({"backend": "llamacpp", "endpoint": server.url,
                             "delay": 150}) as ed:
                    ed.edit(Path(tmp) / "s.py", "")
                    ed.nvim.command("set autoindent")
                    ed.type("i")
                    _replay(ed, script)
                    wait_settled(ed, timeout=60)
                    ed.type("<Esc>")  # a prefetch in flight is cancelled with the session
                    time.sleep(0.5)
                    after, text = server.metrics(), server.log_text()[log_before:]
                    shown = instrument.shown_tokens(ed)
                    warms_sent = instrument.warms(ed)

        def delta(name: str, a: dict[str, float] = after, b: dict[str, float] = before
                  ) -> float:
            return a.get(name, 0.0) - b.get(name, 0.0)

        warm_done, warm_prompt = _warmups_in_log(text)
        # A finished warm-up counts one token "predicted" that nothing generated.
        generated = delta("tokens_predicted_total") - warm_done
        sessions.append({
            "requests": text.count("processing task") * per,
            "cancelled": text.count("cancel task") * per,
            "warmups": warms_sent * per,
            "tokens_generated": generated * per,
            "tokens_never_shown": max(0.0, generated - shown) * per,
            "prompt_tokens_evaluated": delta("prompt_tokens_total") * per,
            "warmup_prompt_tokens": warm_prompt * per,
            "prompt_tokens_from_cache": delta("prompt_tokens_cached_total") * per})
    result: dict[str, Any] = {"keys": len(script), "rounds": sessions}
    for name in sessions[0]:
        result[name] = statistics.median(s[name] for s in sessions)
    result["tokens_generated_range"] = [min(s["tokens_generated"] for s in sessions),
                                        max(s["tokens_generated"] for s in sessions)]
    return result


def prefetch_after_accept(accepts: int = 12, think: float = 1.5) -> dict[str, Any]:
    """llama-server + SmolLM2: a suggestion is shown, read for ``think`` seconds and
    accepted; the time from the accepting key to the next suggestion, prefetch on/off.
    The places are the first halves of lines of code (the module docstring, comments
    and imports left out), typed at the end of the file; an accept after which no
    suggestion comes (the model's next line was a repeat, or nothing) is not counted."""
    source = (ROOT / "rplugin/python3/llama_coder/core/prompt.py").read_text()
    code = source.split('\n"""\n', 1)[1]
    starts = [ln.rstrip()[: max(4, len(ln.rstrip()) // 2)] for ln in code.splitlines()
              if len(ln.strip()) > 20
              and not ln.lstrip().startswith(("#", '"', "from ", "import "))][:accepts]
    result: dict[str, Any] = {"think_s": think}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with llama_server.running(llama_server.smollm2_path(), log) as server:
            for mode in ("on", "off"):
                times: list[float] = []
                with editor({"backend": "llamacpp", "endpoint": server.url, "delay": 150,
                             "prefetch": mode == "on", "max_lines": 2}) as ed:
                    ed.edit(Path(tmp) / f"prompt_{mode}.py", source)
                    ed.nvim.command("set noautoindent")
                    ed.nvim.command("normal! G")
                    ed.type("o")
                    for start in starts:
                        shown = instrument.shown_count(ed)
                        ed.nvim.input("<CR>" + start.replace("<", "<lt>"))
                        if not wait_shown(ed, shown + 1, 30):
                            continue
                        time.sleep(think)  # reading the suggestion
                        shown = instrument.shown_count(ed)
                        ed.nvim.input("<Tab>")
                        if wait_shown(ed, shown + 1, 30):
                            times.append((instrument.last_shown_ns(ed)
                                          - instrument.last_key_ns(ed)) / 1e6)
                        wait_settled(ed)
                result[mode] = summary(times)
    on, off = result["on"]["median"], result["off"]["median"]
    result["ratio"] = on / off if off else float("nan")
    return result


def disk_cache_reopen(places: int = 8) -> dict[str, Any]:
    """llama-server + SmolLM2: suggestions at several places of a file; then a new
    Neovim opens the same file and visits the same places: time to ghost text,
    with cache.disk on and off."""
    source = (ROOT / "rplugin/python3/llama_coder/core/stopper.py").read_text()
    rows = [i for i, ln in enumerate(source.splitlines()) if ln.strip().startswith("return ")]
    rows = rows[:places]
    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        path = Path(tmp) / "stopper.py"
        with llama_server.running(llama_server.smollm2_path(), log) as server:
            for mode in ("on", "off"):
                opts = {"backend": "llamacpp", "endpoint": server.url, "delay": 150,
                        "prefetch": False, "cache": {"disk": mode == "on"}}
                home: Path | None = None
                times: list[float] = []
                for visit in ("first", "reopened"):
                    ed = Editor(opts, home=home)
                    instrument.install(ed)
                    try:
                        ed.edit(path, source)
                        for row in rows:
                            ed.nvim.command(f"normal! {row + 1}G$")
                            shown = instrument.shown_count(ed)
                            ed.nvim.input("a<BS>")  # a change at the line's end, same text
                            if wait_shown(ed, shown + 1, 30) and visit == "reopened":
                                times.append((instrument.last_shown_ns(ed)
                                              - instrument.last_key_ns(ed)) / 1e6)
                            wait_settled(ed)
                            ed.nvim.input("<Esc>")
                    finally:
                        home = ed.home
                        ed.close(keep_home=visit == "first")
                result[mode] = summary(times)
    return result
