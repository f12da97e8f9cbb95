"""`make unit` needs only the Python packages, never the llama-server build."""

from __future__ import annotations

import re

from tests.conftest import ROOT


def prerequisites(target: str) -> list[str]:
    text = (ROOT / "Makefile").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(target)}:([^\n]*)$", text, re.MULTILINE)
    assert match, target
    return match.group(1).replace("|", " ").split()


def test_unit_target_does_not_build_llama_server() -> None:
    assert prerequisites("unit") == ["$(STAMP)"]
    assert "MODEL_STAMP" not in " ".join(prerequisites("$(STAMP)"))
