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
