"""https endpoints: verification is on by default; tls.ca_bundle trusts a private CA."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from llama_coder.backends.registry import create_backend
from llama_coder.controller import Controller
from llama_coder.core.completion import Request
from llama_coder.core.config import parse_config
from llama_coder.core.errors import Unreachable
from llama_coder.core.fim import BUILTIN_TEMPLATES
from tests.fakes.backends import OllamaFake

QWEN = BUILTIN_TEMPLATES["qwen"]
REQUEST = Request("a", "b", QWEN, 8, 0.0, QWEN.stop)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key, cert = folder / "key.pem", folder / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    return key, cert


@pytest.fixture
def tls_fake(certificate: tuple[Path, Path]) -> Iterator[OllamaFake]:
    key, cert = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    with OllamaFake(tls=context) as fake:
        yield fake


async def collect(raw: dict[str, object]) -> str:
    backend = create_backend(parse_config({"backend": "ollama", **raw}).config)
    try:
        return "".join([t async for t in backend.stream(REQUEST)])
    finally:
        await backend.aclose()


async def test_self_signed_is_refused_by_default_with_advice(tls_fake: OllamaFake) -> None:
    assert tls_fake.url.startswith("https://")
    with pytest.raises(Unreachable, match=r"certificate .* tls\.ca_bundle"):
        await collect({"endpoint": tls_fake.url})


async def test_ca_bundle_trusts_it(tls_fake: OllamaFake, certificate: tuple[Path, Path]) -> None:
    assert await collect({"endpoint": tls_fake.url,
                          "tls": {"ca_bundle": str(certificate[1])}}) == "x = 1"


class Recorder:
    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, object]]] = []

    def send(self, kind: str, payload: dict[str, object]) -> None:
        self.sent.append((kind, dict(payload)))


async def test_unreadable_ca_bundle_is_one_message_and_keeps_working() -> None:
    editor = Recorder()
    controller = Controller(editor, environ={})
    controller.configure({"backend": "ollama", "tls": {"ca_bundle": "/nonexistent/ca.pem"}})
    notes = [p["message"] for kind, p in editor.sent if kind == "notify"]
    assert any("tls.ca_bundle: cannot use /nonexistent/ca.pem" in str(m) for m in notes)
    assert controller.completer is not None
    await controller.shutdown()
