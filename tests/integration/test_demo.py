"""`make demo`'s set-up, headless: real llama-server, real model, real Neovim, ghost text."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.llamacpp


def test_demo_shows_a_suggestion_and_stops_its_server() -> None:
    result = subprocess.run([sys.executable, "-m", "devtools.demo", "--check"], cwd=ROOT,
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "suggestion: '" in result.stdout
    assert "llama-server stopped" in result.stdout
