"""Percent-format notebooks (``# %%`` cells, as jupytext writes them) and .ipynb outputs."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

CellKind = Literal["code", "markdown", "raw"]

_MARKER = re.compile(r"^\s*#\s?%%(?!%)(.*)$")
_KIND = re.compile(r"\[(markdown|md|raw)\]")


@dataclass(frozen=True)
class Cell:
    start: int  # first line (the marker line, or 0 for the preamble)
    end: int  # one past the last line
    kind: CellKind


def is_percent_notebook(lines: Sequence[str]) -> bool:
    return any(_MARKER.match(line) for line in lines)


def parse_cells(lines: Sequence[str]) -> list[Cell]:
    """Split into cells; lines before the first marker form a code preamble."""
    cells: list[Cell] = []
    start = 0
    kind: CellKind = "code"
    for i, line in enumerate(lines):
        match = _MARKER.match(line)
        if not match:
            continue
        if i > start:
            cells.append(Cell(start, i, kind))
        found = _KIND.search(match.group(1))
        if not found:
            kind = "code"
        elif found.group(1) == "raw":
            kind = "raw"
        else:
            kind = "markdown"
        start = i
    cells.append(Cell(start, len(lines), kind))
    return cells


def _has_code(lines: Sequence[str], cell: Cell) -> bool:
    body = lines[cell.start : cell.end]
    return any(line.strip() and not _MARKER.match(line) for line in body)


def code_cell_numbers(lines: Sequence[str], cells: Sequence[Cell]) -> dict[int, int]:
    """Map cell position -> index among code cells, as in the paired .ipynb.

    A preamble counts only when it holds something, as jupytext writes no empty cell.
    """
    numbers: dict[int, int] = {}
    count = 0
    for pos, cell in enumerate(cells):
        if cell.kind != "code":
            continue
        is_preamble = cell.start == 0 and not _MARKER.match(lines[0] if lines else "")
        if is_preamble and not _has_code(lines, cell):
            continue
        numbers[pos] = count
        count += 1
    return numbers


def parse_ipynb_outputs(text: str) -> list[list[str]]:
    """Text outputs of each code cell of an .ipynb document; [] when it is not one.

    Takes ``text/plain`` data of results and displays, and stream text (print output).
    """
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return []
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        return []
    result: list[list[str]] = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        texts: list[str] = []
        for output in cell.get("outputs") or []:
            if not isinstance(output, dict):
                continue
            if output.get("output_type") == "stream":
                value = output.get("text")
            else:
                data = output.get("data")
                value = data.get("text/plain") if isinstance(data, dict) else None
            if isinstance(value, list):
                value = "".join(str(v) for v in value)
            if isinstance(value, str) and value:
                texts.append(value)
        result.append(texts)
    return result


def _output_comment(texts: Sequence[str], limit: int, comment: Callable[[str], str]) -> list[str]:
    text = "".join(texts)[:limit].rstrip("\n")
    if not text:
        return []
    return [comment("Output:"), *(comment(line) for line in text.split("\n"))]


@dataclass(frozen=True)
class NotebookView:
    """Lines before the cursor's row and after it, as the prompt should see them."""

    before: list[str]
    after: list[str]


def notebook_view(
    lines: Sequence[str],
    row: int,
    include_markup: bool,
    outputs: Sequence[Sequence[str]] | None,
    output_limit: int,
    comment: Callable[[str], str],
) -> NotebookView:
    """Cells before the cursor's cell go before it, cells after it after it.

    Markdown cells are left out unless ``include_markup``; the outputs of earlier
    code cells follow their cell as comments when ``outputs`` is given.
    """
    cells = parse_cells(lines)
    numbers = code_cell_numbers(lines, cells)
    current = next(i for i, c in enumerate(cells) if c.start <= row < c.end or i == len(cells) - 1)
    before: list[str] = []
    for pos, cell in enumerate(cells[:current]):
        if cell.kind == "markdown" and not include_markup:
            continue
        before.extend(lines[cell.start : cell.end])
        number = numbers.get(pos)
        if outputs is not None and number is not None and number < len(outputs):
            before.extend(_output_comment(outputs[number], output_limit, comment))
    cell = cells[current]
    before.extend(lines[cell.start : row])
    after = list(lines[row + 1 : cell.end])
    for cell in cells[current + 1 :]:
        if cell.kind == "markdown" and not include_markup:
            continue
        after.extend(lines[cell.start : cell.end])
    return NotebookView(before, after)
