"""Installing as a new user does, and what old Pythons and old Neovims are told.

The new-user test: empty XDG directories, the plugin copied as a native package under
pack/*/start, a PATH whose python3 lacks pynvim, no `python` and no g:python3_host_prog;
the install step run headless inside a coroutine the way lazy.nvim runs a `build`
function; then a real Neovim started the same way shows a suggestion from OllamaFake.
pip takes the packages from its index or its (warm) cache, as the rest of the suite.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.harness import Editor, nvim_binary
from tests.fakes.backends import OllamaFake

PYENV = Path.home() / ".pyenv" / "versions"


def _run(python: str, code: str) -> str | None:
    try:
        result = subprocess.run([python, "-c", code], capture_output=True, text=True,
                                timeout=30)
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def _version(python: str) -> tuple[int, ...] | None:
    out = _run(python, "import sys; print('%d.%d' % sys.version_info[:2])")
    return tuple(int(part) for part in out.split(".")) if out else None


def _interpreters() -> list[str]:
    found = [str(p) for p in sorted(PYENV.glob("3.*/bin/python3"))] if PYENV.is_dir() else []
    return ["/usr/bin/python3", *found]


def python_without_pynvim() -> str | None:
    """A Python 3.10+ that can make virtual environments but has no pynvim."""
    for python in _interpreters():
        version = _version(python)
        if (version and version >= (3, 10) and _run(python, "import venv, ensurepip") is not None
                and _run(python, "import pynvim") is None):
            return python
    return None


def old_python() -> str | None:
    """The newest real Python older than 3.10 (pyenv's 3.9, here)."""
    old = [(version, python) for python in _interpreters()
           if (version := _version(python)) and version < (3, 10)]
    return max(old)[1] if old else None


def pip_cache() -> str:
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-m", "pip", "cache", "dir"],
                         capture_output=True, text=True, timeout=60).stdout.strip()
    return out or str(Path.home() / ".cache" / "pip")


# Run the build function as lazy.nvim does: in a coroutine, resumed on the next tick after
# each yield; an error is a failed build.
LAZY_LIKE_BUILD = """
local co = coroutine.create(function() require('llama_coder.install').build() end)
local function step()
  local ok, err = coroutine.resume(co)
  if not ok then
    io.stderr:write('build failed: ' .. tostring(err) .. '\\n')
    return vim.cmd('cquit 2')
  end
  if coroutine.status(co) == 'dead' then
    return vim.cmd('qall!')
  end
  vim.schedule(step)
end
step()
"""

NEW_USER_INIT = """
vim.o.swapfile = false
require('llama_coder').setup(vim.json.decode(vim.env.LLAMA_CODER_OPTS))
"""


@pytest.fixture
def new_user(tmp_path: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    python = python_without_pynvim()
    if python is None:
        pytest.skip("no Python 3.10+ with venv and without pynvim on this machine")
    home = tmp_path / "home"
    package = home / "data" / "nvim" / "site" / "pack" / "plugins" / "start" / "llama-coder.nvim"
    for part in ("plugin", "lua", "rplugin", "doc"):
        shutil.copytree(ROOT / part, package / part,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copy(ROOT / "pyproject.toml", package)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3").symlink_to(python)
    env = {
        "HOME": str(Path.home()),
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "PIP_CACHE_DIR": pip_cache(),
        **{f"XDG_{name}_HOME": str(home / name.lower())
           for name in ("CONFIG", "DATA", "STATE", "CACHE")},
    }
    for name in ("CONFIG", "STATE", "CACHE"):
        Path(env[f"XDG_{name}_HOME"]).mkdir(parents=True)
    yield home, env


def test_new_user_installs_and_gets_a_suggestion(
        new_user: tuple[Path, dict[str, str]], ollama: OllamaFake,
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    home, env = new_user
    script = tmp_path / "build.lua"
    script.write_text(LAZY_LIKE_BUILD, encoding="utf-8")
    result = subprocess.run([nvim_binary(), "--headless", "-i", "NONE", "-c", f"luafile {script}"],
                            env=env, capture_output=True, text=True, timeout=110,
                            stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "the engine environment is ready: Python 3." in output, output
    venv = home / "data" / "nvim" / "llama-coder" / "venv"
    stamp = json.loads((venv / "llama-coder-stamp.json").read_text(encoding="utf-8"))
    assert [re.split(r"[<>=]", req)[0] for req in stamp["requirements"]] == [
        "pynvim", "msgpack", "httpx", "sniffio"]

    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                         "prefetch": False},
                        home=home, env=env, init_lua=NEW_USER_INIT)
    assert ed.lua("return vim.g.python3_host_prog") is None
    assert ed.lua("return require('llama_coder.engine').python()") == str(venv / "bin" / "python")
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    ed.type("Go    ")
    assert ed.wait_suggestion() == "return x + 1"
    assert "Traceback" not in ed.messages() and "Error" not in ed.messages()

    # :checkhealth names the environment, the Python and every package.
    ed.nvim.command("checkhealth llama_coder")
    text = "\n".join(ed.lines())
    assert "the environment :LlamaCoderInstall built" in text
    assert f"OK environment: {venv}" in text
    assert re.search(r"OK Python 3\.1\d", text), text
    for package in ("pynvim", "msgpack", "httpx", "sniffio"):
        assert re.search(rf"OK {package} \d", text), package


def test_install_refuses_an_old_python_headless_with_exit_1(tmp_path: Path) -> None:
    old = tmp_path / "python3.9"  # a shim that answers like Python 3.9 (the probe's format)
    old.write_text("#!/bin/sh\necho '3.9.6 venv'\n", encoding="utf-8")
    old.chmod(0o755)
    env = dict(os.environ)
    env.update({f"XDG_{name}_HOME": str(tmp_path / name.lower())
                for name in ("CONFIG", "DATA", "STATE", "CACHE")})
    result = subprocess.run(
        [nvim_binary(), "--headless", "-i", "NONE", "--cmd", f"set rtp^={ROOT}",
         "-c", "runtime plugin/llama_coder.lua", "-c", f"LlamaCoderInstall {old}", "-c", "qa"],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "install failed: no Python 3.10 or newer found" in result.stderr
    assert f"{old} is 3.9.6" in result.stderr
    assert not (tmp_path / "data" / "nvim" / "llama-coder" / "venv").exists()


@pytest.mark.parametrize("where", ["setup", "host_prog"])
def test_old_python_gets_one_message_naming_its_version(
        where: str, editor_factory: Callable[..., Editor], ollama: OllamaFake,
        tmp_path: Path) -> None:
    python = old_python()
    if python is None:
        pytest.skip("no Python older than 3.10 on this machine (pyenv's 3.9 is used here)")
    version = subprocess.run([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                             capture_output=True, text=True, timeout=30).stdout.strip()
    opts = {"backend": "ollama", "endpoint": ollama.url, "delay": 30}
    if where == "setup":
        ed = editor_factory({**opts, "python": python})
    else:
        ed = editor_factory(opts, env={"LLAMA_CODER_PYTHON": python})
    ed.edit(tmp_path / "a.py", "x = 1\n")
    ed.type("Go")
    ed.wait(lambda: "Python 3.10 or newer" in ed.messages(), message="the message")
    messages = ed.messages()
    assert f"{python} is Python {version}" in messages
    if where == "setup":
        assert "set `python` in setup() to a Python 3.10 or newer" in messages
    else:
        assert "run :LlamaCoderInstall" in messages
    assert "missing" not in messages and "pip" not in messages and "Traceback" not in messages
    assert messages.count("the engine needs") == 1
    ed.type("abc")
    ed.wait(lambda: ed.lines()[1] == "abc", message="typing unaffected")
    ed.type("<Esc>")
    ed.nvim.command("checkhealth llama_coder")
    assert f"Python {version} is too old: the engine needs 3.10 or newer" in "\n".join(ed.lines())


def test_install_runs_in_the_background_and_the_engine_moves_to_it(
        new_user: tuple[Path, dict[str, str]], ollama: OllamaFake,
        editor_factory: Callable[..., Editor], tmp_path: Path) -> None:
    home, env = new_user
    ed = editor_factory({"backend": "ollama", "endpoint": ollama.url, "delay": 30,
                         "prefetch": False}, home=home, env=env)
    # Before: the engine runs with g:python3_host_prog (this test's Python).
    ed.edit(tmp_path / "a.py", "def f(x):\n")
    ed.type("Go    ")
    assert ed.wait_suggestion() == "return x + 1"
    ed.type("<Esc>")
    assert ed.lua("return require('llama_coder.python').engine_python().source") == "host_prog"

    done = ed.lua("_G.install = require('llama_coder.install').run() return _G.install.done")
    assert done is False  # run() returned while the environment is being built
    ed.type("Oabc<Esc>")  # and Neovim goes on taking keys meanwhile
    ed.wait(lambda: ed.lines()[1].strip() == "abc", message="keys handled during the install")
    ed.wait(lambda: ed.lua("return _G.install.done"), timeout=100, message="install done")
    assert ed.lua("return _G.install.ok") is True, ed.lua("return _G.install.message")
    venv = home / "data" / "nvim" / "llama-coder" / "venv"
    assert ed.lua("return require('llama_coder.engine').running()") is False
    assert ed.lua("return require('llama_coder.engine').python()") == str(venv / "bin" / "python")
    ed.type("ddGo    ")
    assert ed.wait_suggestion() == "return x + 1"
    ed.wait(lambda: "engine started (python 3." in ed.log_text(), message="engine log")
    pid = ed.lua("return vim.fn.jobpid(require('llama_coder.engine').chan)")
    assert os.readlink(f"/proc/{pid}/exe") == os.path.realpath(venv / "bin" / "python")


def _old_nvim() -> str | None:
    for candidate in ("/usr/bin/nvim", shutil.which("nvim") or ""):
        if candidate and os.access(candidate, os.X_OK):
            out = subprocess.run([candidate, "--version"], capture_output=True, text=True,
                                 timeout=30).stdout
            match = re.match(r"NVIM v0\.(\d+)\.", out)
            if match and int(match.group(1)) < 10:
                return candidate
    return None


def test_old_neovim_gets_one_line_and_commands_repeat_it(tmp_path: Path) -> None:
    nvim = _old_nvim()
    if nvim is None:
        pytest.skip("no Neovim older than 0.10 here (Debian 12: apt-get install neovim is 0.7.2)")
    version = re.match(r"NVIM v(\S+)", subprocess.run(
        [nvim, "--version"], capture_output=True, text=True, timeout=30).stdout)
    assert version
    env = dict(os.environ)
    env.update({f"XDG_{name}_HOME": str(tmp_path / name.lower())
                for name in ("CONFIG", "DATA", "STATE", "CACHE")})
    line = f"llama-coder needs Neovim 0.10 or newer, this is {version.group(1)}"
    result = subprocess.run(
        [nvim, "--headless", "-u", "NONE", "-i", "NONE", "--cmd", f"set rtp^={ROOT}",
         "-c", "runtime plugin/llama_coder.lua",
         "-c", "lua require('llama_coder').setup({ backend = 'ollama' })",
         "-c", "LlamaCoderStatus", "-c", "LlamaCoderInstall", "-c", "qa"],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # Once at startup (setup() adds nothing), once per command.
    assert output.count(line) == 3, output
    assert "stack traceback" not in output and "E5108" not in output and "Error" not in output
