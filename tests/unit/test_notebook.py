from __future__ import annotations

import json

from llama_coder.core.config import parse_config
from llama_coder.core.notebook import parse_cells, parse_ipynb_outputs
from llama_coder.core.prompt import Snapshot, build_prompt

NB = [
    "import math",                 # 0 preamble (code cell 0)
    "# %% [markdown]",             # 1
    "# # Title",                   # 2
    "# %%",                        # 3 code cell 1
    "x = math.pi",                 # 4
    "print(x)",                    # 5
    "# %%",                        # 6 code cell 2 (cursor cell)
    "y = ",                        # 7
    "# %% [markdown]",             # 8
    "# after",                     # 9
    "# %%",                        # 10 code cell 3
    "z = 1",                       # 11
]
IPYNB = json.dumps({"cells": [
    {"cell_type": "code", "outputs": [{"output_type": "stream", "text": ["warm\n"]}]},
    {"cell_type": "markdown", "source": "# Title"},
    {"cell_type": "code", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": "3.141592653589793\n"},
        {"output_type": "execute_result", "data": {"text/plain": ["'done'"]}}]},
    {"cell_type": "code", "outputs": [{"output_type": "stream", "text": "later\n"}]},
    {"cell_type": "code", "outputs": []},
]})


def prompt(**notebook: object) -> tuple[str, str]:
    cfg = parse_config({"notebook": notebook}).config
    snap = Snapshot(NB, 0, 7, 4, "nb.py", "python", parse_ipynb_outputs(IPYNB))
    p = build_prompt(snap, cfg)
    assert p.notebook
    return p.prefix.split("\n", 2)[2], p.suffix


def test_cells_parsed() -> None:
    kinds = [(c.start, c.kind) for c in parse_cells(NB)]
    assert kinds == [(0, "code"), (1, "markdown"), (3, "code"), (6, "code"), (8, "markdown"),
                     (10, "code")]


def test_markup_included_by_default() -> None:
    prefix, suffix = prompt()
    assert "# # Title" in prefix
    assert "# after" in suffix
    assert prefix.endswith("# %%\ny = ")
    assert "Output:" not in prefix


def test_markup_left_out_when_off() -> None:
    prefix, suffix = prompt(include_markup=False)
    assert "Title" not in prefix and "# after" not in suffix
    assert "z = 1" in suffix


def test_outputs_of_earlier_cells_only_cut_to_limit() -> None:
    prefix, suffix = prompt(include_cell_outputs=True, cell_output_limit=8)
    assert "import math\n# Output:\n# warm\n" in prefix
    assert "print(x)\n# Output:\n# 3.141592\n# %%" in prefix
    assert "later" not in prefix + suffix


def test_malformed_ipynb_gives_no_outputs() -> None:
    assert parse_ipynb_outputs("{not json") == []
    assert parse_ipynb_outputs("[1, 2]") == []
    assert parse_ipynb_outputs('{"cells": [{"cell_type": "code", "outputs": [5]}]}') == [[]]
