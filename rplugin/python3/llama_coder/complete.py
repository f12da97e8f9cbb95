"""``llama-coder-complete FILE:LINE:COL``: one suggestion from your server, on stdout.

For checking a server, a model or a FIM format without Neovim. LINE and COL are
1-based, as Neovim shows them (COL counts bytes, like Neovim's ``col('.')``).

stdout gets exactly the suggestion the editor would show: the text after the stopper
and post-processing, once the answer is complete (nothing when nothing is worth
showing). Post-processing can change or drop text already streamed, so the text
as it streams goes to stderr, with ``--verbose`` only. Every message on
stderr starts with the plugin's name, once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

from llama_coder.completer import Completer
from llama_coder.core.config import AUTO, BACKENDS, ContextConfig, parse_config
from llama_coder.core.errors import LlamaCoderError
from llama_coder.core.prompt import Snapshot, byte_col_to_char, window
from llama_coder.detect import configured, detect_for
from llama_coder.version import VERSION


def parse_location(text: str) -> tuple[Path, int, int]:
    path, sep, rest = text.rpartition(":")
    path2, sep2, line = path.rpartition(":")
    if not sep or not sep2 or not line.isdigit() or not rest.isdigit():
        raise ValueError(f"expected FILE:LINE:COL, got {text!r}")
    return Path(path2), int(line), int(rest)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llama-coder-complete",
        description="Print the code suggestion your model server gives for FILE at LINE:COL, "
                    "as the editor would show it.",
    )
    parser.add_argument("location", help="FILE:LINE:COL (1-based, COL in bytes)")
    parser.add_argument("--backend", choices=BACKENDS)
    parser.add_argument("--endpoint")
    parser.add_argument("--model")
    parser.add_argument("--format")
    parser.add_argument("--config", type=Path, help="JSON file with the keys of setup()")
    parser.add_argument("--verbose", action="store_true",
                        help="prompt, the text as it streams (before post-processing) and "
                             "timings to stderr")
    parser.add_argument("--version", action="version", version=f"llama-coder {VERSION}")
    return parser


def snapshot_for(path: Path, line: int, col: int, context: ContextConfig) -> Snapshot:
    """The prompt window of ``path`` around 1-based LINE and byte COL."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()  # the final newline ends the last line (as Neovim reads the file)
    row = min(max(line - 1, 0), len(lines) - 1)
    char_col = byte_col_to_char(lines[row], max(col - 1, 0))
    try:
        rel = os.path.relpath(path)
    except ValueError:
        rel = str(path)
    start, end = window(row, len(lines), context)
    return Snapshot(lines[start:end], start, row, char_col, rel)


NAME = "llama-coder: "


def say(message: str) -> None:
    """A message for the user on stderr, starting with the plugin's name (once)."""
    print(NAME + message, file=sys.stderr)


async def run(args: argparse.Namespace) -> int:
    raw: dict[str, Any] = {}
    if args.config:
        raw = json.loads(args.config.read_text(encoding="utf-8"))
    for key in ("backend", "endpoint", "model", "format"):
        value = getattr(args, key)
        if value is not None:
            raw[key] = value
    result = parse_config(raw)
    for problem in result.problems:
        say(problem)
    config = result.config
    try:
        location = parse_location(args.location)
    except ValueError as exc:
        say(str(exc))
        return 2
    path, line, col = location
    if not path.is_file():
        say(f"no such file: {path}")
        return 2
    snapshot = snapshot_for(path, line, col, config.context)
    if config.backend == AUTO:
        try:
            found = await detect_for(config, os.environ)
        except LlamaCoderError as exc:  # an unreadable tls.ca_bundle
            say(str(exc))
            return 2
        if found.chosen is None:
            say(found.reason)
            return 2
        say(found.summary())
        config = configured(config, found.chosen)

    completer = Completer(config, warn=say)
    streamed = 0

    def on_text(text: str) -> None:
        nonlocal streamed
        if args.verbose and len(text) > streamed:
            sys.stderr.write(text[streamed:])
            sys.stderr.flush()
            streamed = len(text)

    try:
        check = await completer.check_model()
        if check.status == "missing":
            say(check.message)
            return 1
        if args.verbose:
            the_plan = completer.plan(snapshot)
            print(f"--- {config.backend} {config.resolved_endpoint} model={completer.backend.model}"
                  f" format={completer.resolution.template.name}", file=sys.stderr)
            print(f"--- prompt:\n{the_plan.request.client_prompt()}", file=sys.stderr)
            print("--- streamed (before post-processing):", file=sys.stderr)
        completion = await completer.complete(snapshot, on_text=on_text)
    except LlamaCoderError as exc:
        if streamed:
            sys.stderr.write("\n")
        say(str(exc))
        return 1
    finally:
        await completer.aclose()
    if completion.text:
        sys.stdout.write(completion.text + "\n")
    if args.verbose:
        s = completion.stats
        print(f"\n--- route={s.route} first_chunk_ms={completion.first_chunk_ms} "
              f"total_ms={completion.elapsed_ms:.0f} prompt_tokens={s.prompt_tokens} "
              f"cached_tokens={s.cached_tokens} predicted={s.predicted_tokens}", file=sys.stderr)
    if not completion.text:
        say("the model's answer left nothing worth showing here")
    return 0 if completion.text else 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
