"""The Lua unit tests: every tests/lua/*_spec.lua is plain Lua run by the test Neovim's
`nvim -l`, erroring on its first failure and printing 'ok' at its end."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.harness import nvim_binary

SPECS = sorted((ROOT / "tests" / "lua").glob("*_spec.lua"))


def test_there_are_lua_specs() -> None:
    assert len(SPECS) >= 6


@pytest.mark.parametrize("spec", SPECS, ids=[p.stem for p in SPECS])
def test_lua_spec(spec: Path, tmp_path: Path) -> None:
    env = {**os.environ, "LLAMA_CODER_ROOT": str(ROOT)}
    for name in ("CONFIG", "DATA", "STATE", "CACHE"):
        env[f"XDG_{name}_HOME"] = str(tmp_path / name.lower())
    result = subprocess.run([nvim_binary(), "--clean", "--headless", "-l", str(spec)],
                            capture_output=True, text=True, timeout=60, env=env, cwd=str(ROOT))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert output.strip().endswith("ok"), output


def test_lua_reads_the_requirements_pyproject_toml_declares(tmp_path: Path) -> None:
    script = tmp_path / "requirements.lua"
    script.write_text(f"vim.opt.rtp:prepend({json.dumps(str(ROOT))})\n"
                      "local found = require('llama_coder.python').requirements()\n"
                      "io.stdout:write(vim.json.encode(found))\n", encoding="utf-8")
    result = subprocess.run([nvim_binary(), "--clean", "-l", str(script)], capture_output=True,
                            text=True, timeout=60)
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert json.loads(result.stdout) == declared["project"]["dependencies"], result.stderr
