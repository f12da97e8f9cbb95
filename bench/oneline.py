"""Figure 12: one line or a block (``multiline``), with llama-server + SmolLM2.

The same places in real code, visited by two Neovims at once, one with
``multiline = 'auto'`` (one line in the middle of a line; the places are all in
code, not in doc text) and one with 'always'
(several lines everywhere, what the plugin did before). Two kinds of place:

* mid-line: an identifier in the middle of a line is cut out, with code after it;
  typing its first character asks for the rest;
* block: a block's body is cut out after the line that opens it; typing that line's
  last character asks for the body.

Per place and setting: the server's tokens generated (its --metrics counters, read
before and after), the time from the key to the first ghost, and to the end of the
request (when the server is free again: a stream the client left runs on until the
server notices). Temperature 0, so that both settings get the same answer where they
ask the same (at blocks) and differ only by where they stop. Which Neovim goes first
alternates from one place to the next, so neither always finds the prompt in the
server's KV cache.
"""

from __future__ import annotations

import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import instrument
from bench.figures import SINGLE, editor, wait_settled, wait_shown
from bench.stats import fmt, summary
from devtools import llama_server
from llama_coder.core.lexer import Syntax
from llama_coder.core.place import only_closers
from tests.e2e.harness import ROOT, Editor

SOURCE = ROOT / "rplugin/python3/llama_coder/core/postprocess.py"
MODES = ("auto", "always")
KINDS = ("mid-line", "block")
DELAY_MS = 150
_WORD = re.compile(r"\b[A-Za-z_]\w{2,}")
_OPENER = re.compile(r"^\s*(?:def|class|if|elif|else|for|while|with|try|except)\b.*:$")


@dataclass(frozen=True)
class Place:
    kind: str
    lines: list[str]  # the buffer, with the part to complete cut out
    row: int  # 0-based
    col: int  # byte column of the cursor before the key
    key: str  # the character typed there


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def mid_line_places(lines: list[str]) -> Iterator[Place]:
    """An identifier a third of the way into a line or later, with code after it."""
    python = Syntax(quotes="\"'", line_comment="#")
    in_docstring = False
    for row, line in enumerate(lines):
        body = line.strip()
        was_in = in_docstring
        in_docstring ^= body.count('"""') % 2 == 1
        if was_in or '"""' in body or len(body) < 24 or body.startswith(("#", '"', "'")):
            continue
        for word in _WORD.finditer(line, _indent(line) + len(body) // 3):
            rest = line[word.end():]
            if only_closers(rest, python, line[: word.end()]):
                continue
            cut = line[: word.start()] + rest
            yield Place("mid-line", [*lines[:row], cut, *lines[row + 1:]], row,
                        word.start(), line[word.start()])
            break


def block_places(lines: list[str]) -> Iterator[Place]:
    """A block opener whose body (the lines indented more, after it) is cut out."""
    for row, line in enumerate(lines):
        if not _OPENER.match(line) or row + 1 >= len(lines):
            continue
        end = row + 1
        while end < len(lines) and (not lines[end].strip()
                                    or _indent(lines[end]) > _indent(line)):
            end += 1
        if end - row < 3:
            continue
        yield Place("block", [*lines[:row], line[:-1], *lines[end:]], row, len(line) - 1,
                    line[-1])


WARM_UP = Place("mid-line", ["value = compute(a, b)"], 0, 8, "o")


def _interleave(mid: list[Place], block: list[Place], count: int) -> list[Place]:
    """``count`` places of each kind, spread over the file."""
    def spread(places: list[Place]) -> list[Place]:
        if len(places) <= count:
            return places
        step = len(places) / count
        return [places[int(i * step)] for i in range(count)]
    out: list[Place] = []
    for pair in zip(spread(mid), spread(block), strict=False):
        out.extend(pair)
    return out


def _visit(ed: Editor, server: llama_server.LlamaServer, place: Place,
           timeout: float) -> dict[str, float]:
    """Type the place's key; the tokens the server generated for it, and when a ghost
    came, the time to it and to the request's end."""
    ed.nvim.input("<Esc>")
    ed.wait(lambda: ed.nvim.api.get_mode()["mode"] == "n", message="normal mode")
    wait_settled(ed)
    ed.nvim.current.buffer[:] = place.lines
    ed.nvim.input("i")
    ed.wait(lambda: ed.nvim.api.get_mode()["mode"] == "i", message="insert mode")
    # Moving the cursor there asks for a suggestion once the delay is over, as when a
    # user goes to a place and pauses: the server has the prompt in its KV cache when
    # the key comes, as it has while one types. Its ghost is dismissed (and the cache
    # is off), so the key never types through it.
    ed.nvim.current.window.cursor = (place.row + 1, place.col)
    time.sleep(DELAY_MS / 1000 + 0.2)
    wait_settled(ed, timeout)
    _server_idle(server, timeout)
    if ed.suggestion() is not None:
        ed.nvim.input("<C-]>")
        ed.wait(lambda: ed.suggestion() is None, message="dismissed")
    before = server.metrics().get("tokens_predicted_total", 0.0)
    shown = instrument.shown_count(ed)
    ed.nvim.input(place.key)
    ghost = wait_shown(ed, shown + 1, timeout, poll=0.01)
    wait_settled(ed, timeout)
    done_ns = _server_idle(server, timeout)
    key_ns = instrument.last_key_ns(ed)
    tokens = server.metrics().get("tokens_predicted_total", 0.0) - before
    if not ghost:
        return {"tokens": tokens}
    first_ns: int = ed.lua(f"return bench.shown[{shown + 1}]")  # line by line: the first
    return {"tokens": tokens, "ghost_ms": (first_ns - key_ns) / 1e6,
            "done_ms": (done_ns - key_ns) / 1e6}


def _server_idle(server: llama_server.LlamaServer, timeout: float) -> int:
    """When the server has no request left (polled every 10 ms), in hrtime units: a
    request the client has left may run on until the server notices, and its tokens
    count only once it ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.metrics().get("requests_processing", 0.0):
            break
        time.sleep(0.01)
    return time.monotonic_ns()  # the clock of vim.uv.hrtime() (bench/instrument.py)


def oneline(places: int = 20, timeout: float = 20.0) -> dict[str, Any]:
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    script = _interleave(list(mid_line_places(lines)), list(block_places(lines)), places)
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "server.log"
        with llama_server.running(llama_server.smollm2_path(), log,
                                  (*llama_server.DEFAULT_ARGS, "--metrics")) as server:
            samples = _compare(server, script, Path(tmp), timeout)
    result: dict[str, Any] = {
        mode: {kind: _summarise(samples[mode][kind]) for kind in KINDS} for mode in MODES}
    result["samples"] = samples
    return result


def _compare(server: llama_server.LlamaServer, script: list[Place], tmp: Path,
             timeout: float) -> dict[str, dict[str, list[dict[str, float]]]]:
    """Each place in both Neovims; the measures by setting and kind of place."""
    samples: dict[str, dict[str, list[dict[str, float]]]] = {
        mode: {kind: [] for kind in KINDS} for mode in MODES}
    options = {"backend": "llamacpp", "endpoint": server.url, "delay": DELAY_MS,
               "temperature": 0, "cache": {"size": 0}, **SINGLE}
    with editor({**options, "multiline": "auto"}) as auto, \
            editor({**options, "multiline": "always"}) as always:
        editors = {"auto": auto, "always": always}
        for mode, ed in editors.items():
            (tmp / mode).mkdir()
            ed.edit(tmp / mode / "s.py", "")  # the same file name: the same prompts
            ed.nvim.command("set noautoindent")
            _visit(ed, server, WARM_UP, timeout)  # engine start, model check
        for i, place in enumerate(script):
            for mode in MODES if i % 2 == 0 else MODES[::-1]:
                samples[mode][place.kind].append(_visit(editors[mode], server, place, timeout))
    return samples


def _summarise(rows: list[dict[str, float]]) -> dict[str, Any]:
    tokens = [r["tokens"] for r in rows]
    return {"places": len(rows),
            "ghosts": sum(1 for r in rows if "ghost_ms" in r),
            "tokens_per_suggestion": statistics.fmean(tokens) if tokens else float("nan"),
            "tokens_median": statistics.median(tokens) if tokens else float("nan"),
            "ghost_ms": summary([r["ghost_ms"] for r in rows if "ghost_ms" in r]),
            "done_ms": summary([r["done_ms"] for r in rows if "done_ms" in r])}


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    out = []
    for kind in KINDS:
        auto, always = r["auto"][kind], r["always"][kind]
        out.append((f"12 {kind}: tokens generated per suggestion, multiline auto / always",
                    f"{fmt(auto['tokens_per_suggestion'])} / "
                    f"{fmt(always['tokens_per_suggestion'])} (medians "
                    f"{fmt(auto['tokens_median'])} / {fmt(always['tokens_median'])}, "
                    f"n={auto['places']}/{always['places']})",
                    "auto < always" if kind == "mid-line" else "-",
                    ("yes" if auto["tokens_per_suggestion"] < always["tokens_per_suggestion"]
                     else "NO") if kind == "mid-line" else "-"))
        out.append((f"12 {kind}: time to ghost p50 / request done p50, auto vs always",
                    f"{fmt(auto['ghost_ms']['median'], ' ms')} / "
                    f"{fmt(auto['done_ms']['median'], ' ms')} vs "
                    f"{fmt(always['ghost_ms']['median'], ' ms')} / "
                    f"{fmt(always['done_ms']['median'], ' ms')} (ghosts "
                    f"{auto['ghosts']}/{always['ghosts']})", "-", "-"))
    return out

