"""Where the editor will be if a suggestion is accepted: the snapshot a prefetch uses.

Accepting pastes the suggestion at the cursor and leaves the cursor at its end, so
the next request sees the same window with the suggestion in it. Building that
snapshot here, exactly as the editor would send it, lets the prefetched answer be
found in the cache under the very prompt the next real request builds.
"""

from __future__ import annotations

import dataclasses

from llama_coder.core.prompt import Snapshot


def accepted(snapshot: Snapshot, text: str) -> Snapshot:
    """``snapshot`` with ``text`` inserted at its cursor and the cursor after it."""
    local = snapshot.row - snapshot.first_line
    lines = list(snapshot.lines)
    line = lines[local]
    col = min(max(snapshot.col, 0), len(line))
    joined = line[:col] + text
    new_lines = joined.split("\n")
    last = new_lines[-1]
    new_lines[-1] = last + line[col:]
    lines[local : local + 1] = new_lines
    return dataclasses.replace(
        snapshot, lines=lines, row=snapshot.row + len(new_lines) - 1, col=len(last)
    )
