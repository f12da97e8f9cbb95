"""From the text around the cursor to a bounded prefix and suffix.

The prompt never grows with the file: a line window and a character budget bound
both sides. The prefix window's first line moves in steps rather than with every
new line, so that consecutive prompts share their start and the server can serve
that part from its KV cache.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from llama_coder.core.config import Config, ContextConfig
from llama_coder.core.languages import Language, detect_language
from llama_coder.core.notebook import is_percent_notebook, notebook_view


@dataclass(frozen=True)
class Snapshot:
    """What the editor knows at the moment of the request.

    ``lines`` is a window of the buffer starting at buffer line ``first_line``;
    ``row`` is the cursor's buffer line (0-based) and ``col`` its column in
    characters (not bytes).
    """

    lines: Sequence[str]
    first_line: int
    row: int
    col: int
    path: str = ""
    filetype: str = ""
    notebook_outputs: Sequence[Sequence[str]] | None = None


@dataclass(frozen=True)
class Prompt:
    prefix: str  # header, lines before the cursor, cursor line up to the cursor
    suffix: str  # cursor line after the cursor, lines after
    line_before: str  # the cursor line up to the cursor
    line_after: str  # the cursor line after the cursor
    language: Language | None
    notebook: bool = False
    from_file_start: bool = False  # the prefix holds every line before the cursor


def window_step(ctx: ContextConfig) -> int:
    return max(1, ctx.prefix_lines // 4)


def window(row: int, line_count: int, ctx: ContextConfig) -> tuple[int, int]:
    """Buffer lines [start, end) to read for a cursor on ``row``.

    ``start`` is rounded down to a multiple of :func:`window_step`, so it stays put
    while the user writes several lines in a row.
    """
    step = window_step(ctx)
    start = max(0, row - ctx.prefix_lines)
    start -= start % step
    end = min(line_count, row + 1 + ctx.suffix_lines)
    return start, max(end, min(row + 1, line_count))


def byte_col_to_char(line: str, byte_col: int) -> int:
    """Neovim columns are bytes; a column inside a multi-byte character rounds down."""
    return len(line.encode("utf-8")[:byte_col].decode("utf-8", errors="ignore"))


def file_header(language: Language | None, path: str) -> str:
    """``Language:`` and ``Path:`` lines in the language's comment syntax, or nothing."""
    if language is None:
        return ""
    texts = [f"Language: {language.name}"] + ([f"Path: {path}"] if path else [])
    comments = [language.comment(text) for text in texts]
    return "".join(f"{c}\n" for c in comments if c is not None)


def _fit_prefix(lines: list[str], line_before: str, budget: int) -> tuple[list[str], str]:
    """Drop whole lines from the start, then cut the cursor line, to fit ``budget``."""
    if len(line_before) >= budget:
        return [], line_before[len(line_before) - budget :] if budget else ""
    total = len(line_before) + sum(len(line) + 1 for line in lines)
    drop = 0
    while total > budget and drop < len(lines):
        total -= len(lines[drop]) + 1
        drop += 1
    return lines[drop:], line_before


def _fit_suffix(line_after: str, lines: list[str], budget: int) -> str:
    if len(line_after) >= budget:
        return line_after[:budget]
    kept: list[str] = []
    total = len(line_after)
    for line in lines:
        if total + 1 + len(line) > budget:
            break
        kept.append(line)
        total += 1 + len(line)
    return "\n".join([line_after, *kept])


def build_prompt(snapshot: Snapshot, config: Config) -> Prompt:
    """The prefix and suffix for ``snapshot``, bounded by ``config.context``."""
    ctx = config.context
    lines = snapshot.lines
    local_row = snapshot.row - snapshot.first_line
    if not 0 <= local_row < len(lines):
        raise ValueError(f"cursor row {snapshot.row} is outside the snapshot")
    cursor_line = lines[local_row]
    col = min(max(snapshot.col, 0), len(cursor_line))
    line_before, line_after = cursor_line[:col], cursor_line[col:]
    language = detect_language(snapshot.filetype, snapshot.path)

    notebook = (
        language is not None and language.name == "Python" and is_percent_notebook(lines)
    )
    if notebook:
        assert language is not None
        view = notebook_view(
            lines,
            local_row,
            include_markup=config.notebook.include_markup,
            outputs=snapshot.notebook_outputs if config.notebook.include_cell_outputs else None,
            output_limit=config.notebook.cell_output_limit,
            comment=lambda text: f"# {text}",
        )
        longest = ctx.prefix_lines + window_step(ctx)
        before = view.before[max(0, len(view.before) - longest) :]
        after = view.after
        from_start = False
    else:
        # The anchored window start, in this snapshot's coordinates.
        start, _ = window(snapshot.row, snapshot.first_line + len(lines), ctx)
        before = list(lines[max(0, start - snapshot.first_line) : local_row])
        after = list(lines[local_row + 1 :])
        from_start = start <= 0 and snapshot.first_line == 0
    after = after[: ctx.suffix_lines]

    fitted, line_before_kept = _fit_prefix(before, line_before, ctx.prefix_chars)
    from_start = from_start and len(fitted) == len(before) and line_before_kept == line_before
    body = "".join(f"{line}\n" for line in fitted) + line_before_kept
    prefix = file_header(language, snapshot.path) + body
    suffix = _fit_suffix(line_after, after, ctx.suffix_chars)
    return Prompt(prefix, suffix, line_before, line_after, language, notebook, from_start)
