"""README, the help file and the schema say the same thing."""

from __future__ import annotations

import re
import subprocess
import sys

from llama_coder.core.config import SCHEMA
from tests.conftest import ROOT

HELP = (ROOT / "doc" / "llama-coder.txt").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_generated_sections_are_fresh() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gendocs.py"), "--check"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_every_schema_key_has_a_help_tag_and_readme_row() -> None:
    for opt in SCHEMA:
        assert f"*llama-coder-{opt.key}*" in HELP, opt.key
        assert f"| `{opt.key}` |" in README, opt.key


def test_help_links_point_at_existing_tags() -> None:
    tags = set(re.findall(r"\*(llama-coder[\w.-]*)\*", HELP))
    links = set(re.findall(r"\|(llama-coder[\w.-]*)\|", HELP))
    assert links <= tags, links - tags


def test_readme_names_both_commands() -> None:
    assert "make demo" in README and "make test" in README


PLUGIN = (ROOT / "plugin" / "llama_coder.lua").read_text(encoding="utf-8")
INIT = (ROOT / "lua" / "llama_coder" / "init.lua").read_text(encoding="utf-8")


def test_every_command_plug_map_and_function_has_a_help_tag() -> None:
    commands = re.findall(r"^  (LlamaCoder\w+) = \{", PLUGIN, re.M)
    plugs = re.findall(r"\['(<Plug>\([\w-]+\))'\]", PLUGIN)
    functions = [f for f in re.findall(r"^function M\.(\w+)\(", INIT, re.M)
                 if f != "status_lines"]
    assert len(commands) == 7 and len(plugs) == 7 and len(functions) >= 14
    for command in commands:
        assert f"*:{command}*" in HELP, command
        assert command in README, command
    for plug in plugs:
        assert f"*{plug}*" in HELP, plug
    for function in functions:
        assert f"*llama-coder.{function}()*" in HELP, function
    for event in ("LlamaCoderSuggestion", "LlamaCoderStatus"):
        assert f"*User_{event}*" in HELP
    assert "*hl-LlamaCoderSuggestion*" in HELP


def test_helptags_accepts_the_help_file(tmp_path: object) -> None:
    import shutil
    from pathlib import Path

    from tests.e2e.harness import nvim_binary

    docs = Path(str(tmp_path)) / "doc"
    docs.mkdir()
    shutil.copy(ROOT / "doc" / "llama-coder.txt", docs)
    result = subprocess.run([nvim_binary(), "--clean", "--headless", "-c",
                             f"helptags {docs}", "-c", "qa!"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "E154" not in result.stderr, result.stderr
    assert (docs / "tags").read_text().count("\n") > 60
