"""The Lua unit tests (tests/lua/*_spec.lua), each run by a real Neovim with `nvim -l`."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.harness import nvim_binary

SPECS = sorted((ROOT / "tests" / "lua").glob("*_spec.lua"))


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_lua_spec(spec: Path, tmp_path: Path) -> None:
    env = {**os.environ, "LLAMA_CODER_ROOT": str(ROOT), "XDG_STATE_HOME": str(tmp_path),
           "XDG_DATA_HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run([nvim_binary(), "--clean", "--headless", "-l", str(spec)],
                            capture_output=True, text=True, timeout=60, env=env)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.strip().endswith("ok"), output


def test_there_are_lua_specs() -> None:
    assert len(SPECS) >= 3
