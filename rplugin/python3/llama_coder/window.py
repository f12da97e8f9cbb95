"""What a request's window becomes for the engine: the prompt's snapshot and the
extra context from other buffers."""

from __future__ import annotations

import asyncio
from pathlib import Path

from llama_coder.core.config import Config
from llama_coder.core.context_ring import ContextRing
from llama_coder.core.notebook import parse_ipynb_outputs
from llama_coder.core.prompt import Snapshot
from llama_coder.messages import CompletionRequest


async def snapshot_of(request: CompletionRequest, config: Config) -> Snapshot:
    """The request's window; a notebook's cell outputs read off the loop when wanted."""
    outputs = None
    if config.notebook.include_cell_outputs and request.abspath:
        outputs = await asyncio.to_thread(_read_outputs, request.abspath)
    return Snapshot(request.lines, request.first_line, request.row, request.char_col,
                    request.path, request.filetype, outputs)


def extra_context(ring: ContextRing, config: Config, path: str) -> list[tuple[str, str]]:
    """Chunks of other buffers for a request in ``path``, within the configured size."""
    if config.context.extra_chars <= 0:
        return []
    return [(c.path, c.text) for c in ring.select(config.context.extra_chars, path)]


def _read_outputs(abspath: str) -> list[list[str]] | None:
    ipynb = Path(abspath).with_suffix(".ipynb")
    try:
        if ipynb.is_file() and ipynb.stat().st_size < 20_000_000:
            return parse_ipynb_outputs(ipynb.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return None
    return None
