"""Wire formats of each backend, checked with respx (no sockets)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx

from llama_coder.backends.http import error_for_status, error_message
from llama_coder.backends.registry import BACKENDS, create_backend
from llama_coder.core.completion import Request
from llama_coder.core.config import parse_config
from llama_coder.core.errors import (
    AuthFailed,
    BadRequest,
    ConfigError,
    ModelMissing,
    ServerBusy,
    ServerError,
)
from llama_coder.core.fim import BUILTIN_TEMPLATES

URL = "http://wire.test"
DS = BUILTIN_TEMPLATES["deepseek"]
REQ = Request("a(", ")", DS, 16, 0.0, DS.stop)


def ndjson(*objs: Any) -> bytes:
    return b"".join(json.dumps(o).encode() + b"\n" for o in objs)


def sse(*objs: Any, done: bool = True) -> bytes:
    out = b"".join(b"data: " + json.dumps(o).encode() + b"\n\n" for o in objs)
    return out + (b"data: [DONE]\n\n" if done else b"")


async def run(kind: str, **options: Any) -> str:
    backend = create_backend(parse_config({"backend": kind, "endpoint": URL, **options}).config)
    try:
        return "".join([t async for t in backend.stream(REQ)])
    finally:
        await backend.aclose()


@respx.mock
async def test_ollama_generate_wire() -> None:
    route = respx.post(f"{URL}/api/generate").mock(httpx.Response(200, content=ndjson(
        {"response": "b", "done": False}, {"response": "", "done": True, "eval_count": 1})))
    assert await run("ollama", model="deepseek-coder:1.3b-base") == "b"
    sent = json.loads(route.calls[0].request.content)
    assert sent["prompt"] == "<｜fim▁begin｜>a(<｜fim▁hole｜>)<｜fim▁end｜>"
    assert sent["raw"] is True and sent["options"]["stop"] == list(DS.stop)


@respx.mock
async def test_openai_completions_wire_with_bearer() -> None:
    route = respx.post(f"{URL}/v1/completions").mock(httpx.Response(200, content=sse(
        {"choices": [{"text": "b", "index": 0, "finish_reason": None}]},
        {"choices": [{"text": "c", "index": 0, "finish_reason": "stop"}]})))
    out = await run("openai", model="m", bearer_token="tok")
    assert out == "bc"
    request = route.calls[0].request
    assert request.headers["authorization"] == "Bearer tok"
    assert json.loads(request.content)["stop"] == list(DS.stop[:4])


@respx.mock
async def test_vllm_wire() -> None:
    route = respx.post(f"{URL}/v1/completions").mock(httpx.Response(200, content=sse(
        {"choices": [{"text": "b", "index": 0, "finish_reason": None}]})))
    assert await run("vllm", model="m") == "b"
    sent = json.loads(route.calls[0].request.content)
    assert sent["skip_special_tokens"] is False and "suffix" not in sent


@respx.mock
async def test_llamacpp_infill_wire() -> None:
    route = respx.post(f"{URL}/infill").mock(httpx.Response(200, content=sse(
        {"content": "b", "stop": False}, {"content": "", "stop": True, "timings": {}},
        done=False)))
    assert await run("llamacpp") == "b"
    sent = json.loads(route.calls[0].request.content)
    assert (sent["input_prefix"], sent["input_suffix"]) == ("a(", ")")
    assert sent["stream"] is True and sent["cache_prompt"] is True


def test_registry_covers_every_backend_value_and_contract() -> None:
    from llama_coder.backends.base import Backend
    from llama_coder.core.config import BACKENDS as NAMES

    assert set(BACKENDS) == set(NAMES) - {"auto"}  # auto: detect.py finds one of these
    with pytest.raises(ConfigError, match=r"resolved by detect\.AutoSetup"):
        create_backend(parse_config({}).config)
    for name, cls in BACKENDS.items():
        assert issubclass(cls, Backend) and cls.name == name
        assert not getattr(cls, "__abstractmethods__", None), name

    class Incomplete(Backend):
        name = "x"

    with pytest.raises(TypeError):
        Incomplete(None)  # type: ignore[abstract,arg-type]


@pytest.mark.parametrize(("body", "message"), [
    ('{"error": "model \'x\' not found"}', "model 'x' not found"),
    ('{"error": {"message": "bad", "type": "t", "code": 400}}', "bad"),
    ('{"object": "error", "message": "flat", "code": 400}', "flat"),
    ("<html><body>502 Bad Gateway</body></html>",
     "an HTML page (is a proxy or another web server at this address?)"),
    ("", ""),
    ("x" * 1000, "x" * 199 + "…"),
])
def test_error_bodies(body: str, message: str) -> None:
    assert error_message(body) == message


@pytest.mark.parametrize(("status", "body", "kind"), [
    (401, "", AuthFailed), (403, "", AuthFailed),
    (404, '{"error": "model \'q\' not found"}', ModelMissing),
    (404, "", ServerError), (400, '{"error":"x"}', BadRequest),
    (503, "", ServerBusy), (429, "", ServerBusy), (500, "boom", ServerError),
    (302, "", ServerError),
])
def test_status_mapping(status: int, body: str, kind: type[Exception]) -> None:
    err = error_for_status(status, body, URL)
    assert type(err) is kind
    assert "Traceback" not in str(err)
