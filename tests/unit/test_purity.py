"""The core and the backends never import pynvim (or anything of the editor)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import SRC

SCRIPT = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "pynvim" or name.startswith("pynvim."):
                raise ImportError("pynvim is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    sys.path.insert(0, sys.argv[1])
    names = []
    for module in sys.argv[2:]:
        importlib.import_module(module)
    for package in ("llama_coder.core", "llama_coder.backends"):
        pkg = importlib.import_module(package)
        for info in pkgutil.walk_packages(pkg.__path__, package + "."):
            importlib.import_module(info.name)
            names.append(info.name)
    assert "pynvim" not in sys.modules, "pynvim was imported"
    print(len(names))
    """
)


def test_core_and_backends_import_with_pynvim_blocked() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SRC)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 10


def test_blocking_really_blocks() -> None:
    """The guard itself works: importing the plugin module fails under it."""
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(SRC), "llama_coder.plugin"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode != 0
    assert "pynvim is blocked" in result.stderr
