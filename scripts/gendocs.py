"""Write the configuration reference into README.md and doc/llama-coder.txt from the schema.

    python scripts/gendocs.py          rewrite both files
    python scripts/gendocs.py --check  exit 1 when either file is out of date
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "rplugin" / "python3"))

from llama_coder.core.config import SCHEMA, Option  # noqa: E402

README = ROOT / "README.md"
HELP = ROOT / "doc" / "llama-coder.txt"
LUA_SCHEMA = ROOT / "lua" / "llama_coder" / "schema.lua"
README_BEGIN, README_END = "<!-- config:begin (scripts/gendocs.py) -->", "<!-- config:end -->"
HELP_BEGIN = "Generated from the schema by scripts/gendocs.py; edit the schema, not this."
HELP_END = "End of the generated option list."


def _lua(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "{}" if not value else "{ ... }"
    if isinstance(value, list):
        return "{}" if not value else "{ ... }"
    return str(value)


def _lua_literal(value: object) -> str:
    """A Lua expression for a default value (strings in double quotes, escaped)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, dict):
        items = ", ".join(f'["{k}"] = {_lua_literal(v)}' for k, v in value.items())
        return "{ " + items + " }" if items else "vim.empty_dict()"
    if isinstance(value, list):
        return "{ " + ", ".join(_lua_literal(v) for v in value) + " }"
    if isinstance(value, float) and value.is_integer():
        return repr(value)
    return str(value)


def lua_schema() -> str:
    lines = [
        "-- Generated from the Python schema by scripts/gendocs.py; do not edit.",
        "---@class LlamaCoderOption",
        "---@field key string dotted name",
        "---@field kind string",
        "---@field default any",
        "---@field min number|nil",
        "---@field max number|nil",
        "---@field choices string[]|nil",
        "---@field lua boolean|nil only Lua reads it, and Lua reports a bad value",
        "",
        "---@type LlamaCoderOption[]",
        "return {",
    ]
    for opt in SCHEMA:
        parts = [f'key = "{opt.key}"', f'kind = "{opt.kind}"',
                 f"default = {_lua_literal(opt.default)}"]
        if opt.minimum is not None:
            parts.append(f"min = {_num_lua(opt.minimum)}")
        if opt.maximum is not None:
            parts.append(f"max = {_num_lua(opt.maximum)}")
        if opt.choices:
            parts.append("choices = { " + ", ".join(f'"{c}"' for c in opt.choices) + " }")
        if opt.consumer == "lua":
            parts.append("lua = true")
        lines.append("  { " + ", ".join(parts) + " },")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _num_lua(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def readme_table() -> str:
    rows = ["| key | type | default | what it does |", "|---|---|---|---|"]
    for opt in SCHEMA:
        doc = opt.doc.replace("|", "\\|")
        kind = opt.describe_type().replace("|", "\\|")
        rows.append(f"| `{opt.key}` | {kind} | `{_lua(opt.default)}` | {doc} |")
    return "\n".join(rows)


def help_tag(opt: Option) -> str:
    return f"*llama-coder-{opt.key}*"


def help_entries() -> str:
    out: list[str] = []
    for opt in SCHEMA:
        tag = help_tag(opt)
        head = f"{opt.key}"
        out.append(f"{head:<{78 - len(tag)}}{tag}")
        out.append(f"    Type: {opt.describe_type()}. Default: `{_lua(opt.default)}`.")
        out.extend(textwrap.wrap(opt.doc, 76, initial_indent="    ", subsequent_indent="    "))
        out.append("")
    return "\n".join(out).rstrip("\n")


def _replace(text: str, begin: str, end: str, body: str, name: str) -> str:
    start = text.find(begin)
    stop = text.find(end)
    if start < 0 or stop < start:
        raise SystemExit(f"{name}: markers {begin!r} ... {end!r} not found")
    return text[: start + len(begin)] + "\n" + body + "\n" + text[stop:]


def render() -> dict[Path, str]:
    readme = README.read_text(encoding="utf-8")
    helptext = HELP.read_text(encoding="utf-8")
    return {
        README: _replace(readme, README_BEGIN, README_END, readme_table(), "README.md"),
        HELP: _replace(helptext, HELP_BEGIN, HELP_END, help_entries(), "doc/llama-coder.txt"),
        LUA_SCHEMA: lua_schema(),
    }


def main(argv: list[str]) -> int:
    stale = []
    for path, text in render().items():
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            stale.append(path)
            if "--check" not in argv:
                path.write_text(text, encoding="utf-8")
    if stale and "--check" in argv:
        names = ", ".join(p.name for p in stale)
        print(f"out of date: {names}; run python scripts/gendocs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
