"""Protocol fakes of Ollama, OpenAI-compatible servers, vLLM and llama-server.

Each speaks its server's documented wire format (../shared/reference/backends.md,
checked against a real llama-server for llama.cpp) over real HTTP on 127.0.0.1.
Tests script the tokens a completion streams (``tokens``, ``delay``), queue a
one-off reply for a path (``override``) to inject faults, and read what was
received (``completions()``) and when clients disconnected.
"""

from __future__ import annotations

import json
import ssl
import time
from collections import defaultdict, deque
from collections.abc import Callable
from typing import Any

from tests.fakes.server import FakeHttpServer, Piece, Recorded, Reply


def _has_lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, dict):
        return any(_has_lone_surrogate(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_lone_surrogate(v) for v in value)
    return False


class ProtocolFake(FakeHttpServer):
    completion_paths: tuple[str, ...] = ()
    # nlohmann::json (llama-server) refuses an escaped lone surrogate ("\udce9");
    # Go (Ollama) and Python servers read it.
    refuses_lone_surrogates = False

    def __init__(self, tokens: list[str] | None = None, delay: float = 0.0,
                 port: int = 0, tls: ssl.SSLContext | None = None) -> None:
        super().__init__(self._route, port, tls)
        self.tokens = tokens if tokens is not None else ["x", " = ", "1"]
        self.delay = delay  # seconds before each token
        self.first_delay = 0.0  # extra seconds before the first token (prompt evaluation)
        self.token_delays: dict[int, float] = {}  # extra seconds before token i
        self.hang_after_tokens = False
        # Send the protocol's final marker, then keep the body open (no terminator)
        # until the client leaves: what a slow last packet looks like.
        self.hold_body_open = False
        self.api_key: str | None = None
        self._overrides: dict[str, deque[Reply]] = defaultdict(deque)
        self.routes: dict[tuple[str, str], Callable[[Recorded], Reply]] = {}

    def override(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with these replies, in order."""
        self._overrides[path].extend(replies)

    def completions(self) -> list[Recorded]:
        """Requests for a suggestion (warm-ups, which ask for no text, left out)."""
        return [r for r in self.recorded()
                if r.path in self.completion_paths and not self.is_warm_up(r)]

    def warm_ups(self) -> list[Recorded]:
        """Requests that only have the prompt evaluated (see Completer.warm)."""
        return [r for r in self.recorded()
                if r.path in self.completion_paths and self.is_warm_up(r)]

    @staticmethod
    def tokens_asked(body: dict[str, Any]) -> object:
        return body.get("max_tokens")

    def is_warm_up(self, request: Recorded) -> bool:
        try:
            body = request.body
        except ValueError:
            return False
        return isinstance(body, dict) and self.tokens_asked(body) in (0, 1)

    def token_pieces(self, frame: Callable[[str, int], bytes], final: bytes | None,
                     tokens: list[str] | None = None) -> list[Piece]:
        pieces = []
        for i, token in enumerate(self.tokens if tokens is None else tokens):
            delay = (self.delay + (self.first_delay if i == 0 else 0.0)
                     + self.token_delays.get(i, 0.0))
            pieces.append(Piece(frame(token, i), delay))
        if final is not None and not self.hang_after_tokens:
            # With no tokens (a warm-up) the prompt's evaluation comes before the end.
            pieces.append(Piece(final, self.delay + (0.0 if pieces else self.first_delay)))
        return pieces

    def remaining(self, request: Recorded) -> list[str]:
        """The tokens still to come for this request: like a model, the fake goes on
        from its own answer's start when the prompt ends with it (a continuation,
        see Request.continuation; only a start with a whole line counts, so a prompt
        that merely ends like the first token is not taken for one)."""
        body = request.body if isinstance(request.body, dict) else {}
        prompt = body.get("prompt")
        if isinstance(prompt, str):
            for i in range(len(self.tokens), 0, -1):
                start = "".join(self.tokens[:i])
                if "\n" in start and prompt.endswith(start):
                    return self.tokens[i:]
        return self.tokens

    def bad_body(self, message: str) -> Reply:
        """What the server answers to a body it cannot parse."""
        return Reply.json({"error": message}, 400)

    def _refused_body(self, request: Recorded) -> Reply | None:
        """Real servers refuse JSON that is not UTF-8 (or not JSON)."""
        if request.method != "POST" or not request.raw_body:
            return None
        try:
            value = json.loads(request.raw_body.decode("utf-8"))
        except ValueError as exc:
            return self.bad_body(f"invalid request body: {exc}")
        if self.refuses_lone_surrogates and _has_lone_surrogate(value):
            return self.bad_body("invalid string: surrogate U+DC00..U+DFFF must follow "
                                 "U+D800..U+DBFF")
        return None

    def _route(self, request: Recorded) -> Reply:
        queued = self._overrides.get(request.path)
        if queued:
            return queued.popleft()
        refused = self._refused_body(request)
        if refused is not None:
            return refused
        denied = gate(self, request)
        if denied is not None:
            return denied
        handler = self.routes.get((request.method, request.path)) or identity_route(self, request)
        if handler is None:
            return Reply.json({"error": f"no route {request.method} {request.path}"}, 404)
        reply = handler(request)
        reply.hang = reply.hang or (request.path in self.completion_paths
                                    and (self.hang_after_tokens or self.hold_body_open))
        return reply


def sse(obj: Any) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


GO_DURATION_UNITS = ("ns", "us", "µs", "μs", "ms", "s", "m", "h")
DIGITS = "0123456789"


def go_duration_error(text: str) -> str | None:
    """The error Go's time.ParseDuration gives for ``text`` (None: it parses), as
    Ollama returns it for a keep_alive string: a sign, then numbers each with a unit."""
    quoted = json.dumps(text, ensure_ascii=False)
    rest = text[1:] if text[:1] in ("+", "-") else text
    if rest == "0":
        return None
    if not rest:
        return f"time: invalid duration {quoted}"
    while rest:
        i = 0
        while i < len(rest) and rest[i] in DIGITS:
            i += 1
        whole = i > 0
        fraction = False
        if i < len(rest) and rest[i] == ".":
            i += 1
            start = i
            while i < len(rest) and rest[i] in DIGITS:
                i += 1
            fraction = i > start
        if not (whole or fraction):
            return f"time: invalid duration {quoted}"
        rest = rest[i:]
        i = 0
        while i < len(rest) and rest[i] != "." and rest[i] not in DIGITS:
            i += 1
        if i == 0:
            return f"time: missing unit in duration {quoted}"
        if rest[:i] not in GO_DURATION_UNITS:
            return f"time: unknown unit {json.dumps(rest[:i], ensure_ascii=False)} in duration " \
                   f"{quoted}"
        rest = rest[i:]
    return None


def keep_alive_error(value: Any) -> str | None:
    """Ollama's api.Duration.UnmarshalJSON: a number is seconds (negative: for ever), a
    string must be a Go duration; null leaves the default; anything else is refused."""
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return None
    if isinstance(value, str):
        return go_duration_error(value)
    go_type = {bool: "bool", list: "[]interface {}", dict: "map[string]interface {}"}
    return f"Unsupported type: '{go_type[type(value)]}'"


class OllamaFake(ProtocolFake):
    completion_paths = ("/api/generate",)

    @staticmethod
    def tokens_asked(body: dict[str, Any]) -> object:
        options = body.get("options")
        return options.get("num_predict") if isinstance(options, dict) else None

    def __init__(self, models: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.models = models if models is not None else ["qwen2.5-coder:1.5b-base"]
        self.pull_total = 1000
        self.pull_steps = 4
        self.pull_delay = 0.0  # seconds before each line of a download
        # After this many progress steps the download stalls: "repeat" sends the same
        # progress line every pull_tick seconds (as Ollama does while no byte arrives),
        # "silent" sends nothing more (as while Ollama verifies a big blob).
        self.pull_stall_after: int | None = None
        self.pull_stall = "repeat"
        self.pull_tick = 0.02
        self.routes = {
            ("GET", "/api/version"): lambda r: Reply.json({"version": "0.12.0"}),
            ("GET", "/"): lambda r: Reply.text("Ollama is running"),
            ("GET", "/api/tags"): self._tags,
            ("POST", "/api/pull"): self._pull,
            ("POST", "/api/generate"): self._generate,
        }

    def _tags(self, _: Recorded) -> Reply:
        return Reply.json({"models": [{"name": m, "model": m, "size": 1, "digest": "d"}
                                      for m in self.models]})

    def _pull(self, request: Recorded) -> Reply:
        model = request.body.get("model") or request.body.get("name")
        lines: list[dict[str, Any]] = [{"status": "pulling manifest"}]
        step = self.pull_total // self.pull_steps
        for i in range(1, self.pull_steps + 1):
            lines.append({"status": "pulling abc123", "digest": "sha256:abc123",
                          "total": self.pull_total, "completed": min(self.pull_total, i * step)})
        pieces = [Piece(json.dumps(line).encode() + b"\n", self.pull_delay) for line in lines]
        if self.pull_stall_after is not None:
            pieces = pieces[: self.pull_stall_after + 1]
            if self.pull_stall == "silent":
                return Reply(200, "application/x-ndjson", pieces, hang=True)
            last = pieces[-1].data  # repeated until the client gives up
            pieces += [Piece(last, self.pull_tick) for _ in range(int(600 / self.pull_tick))]
            return Reply(200, "application/x-ndjson", pieces)
        pieces += [Piece(json.dumps(line).encode() + b"\n", self.pull_delay) for line in (
            {"status": "verifying sha256 digest"}, {"status": "writing manifest"},
            {"status": "success"})]
        self.models.append(model)
        return Reply(200, "application/x-ndjson", pieces)

    def _generate(self, request: Recorded) -> Reply:
        refused = keep_alive_error(request.body.get("keep_alive"))
        if refused is not None:  # Ollama fails to decode the body: 400 before anything else
            return Reply.json({"error": refused}, 400)
        model = request.body.get("model")
        if not any(m == model or m == f"{model}:latest" for m in self.models):
            return Reply.json({"error": f"model '{model}' not found"}, 404)

        def frame(token: str, _: int) -> bytes:
            return json.dumps({"model": model, "created_at": "now", "response": token,
                               "done": False}).encode() + b"\n"

        tokens = self.remaining(request)
        final = json.dumps({"model": model, "response": "", "done": True,
                            "done_reason": "stop", "prompt_eval_count": 10,
                            "eval_count": len(tokens)}).encode() + b"\n"
        return Reply(200, "application/x-ndjson", self.token_pieces(frame, final, tokens))


class OpenAIFake(ProtocolFake):
    """An OpenAI-compatible server; ``vllm=True`` adds vLLM's routes and rules."""

    completion_paths = ("/v1/completions",)

    def __init__(self, models: list[str] | None = None, vllm: bool = False,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.models = models if models is not None else ["Qwen/Qwen2.5-Coder-1.5B"]
        self.vllm = vllm
        self.owned_by = "vllm" if vllm else "fake"  # LM Studio says "organization_owner"
        self.routes = {
            ("GET", "/v1/models"): self._models,
            ("POST", "/v1/completions"): self._completions,
        }
        if vllm:
            self.routes[("GET", "/health")] = lambda r: Reply(200, "text/plain", [])
            self.routes[("GET", "/version")] = lambda r: Reply.json({"version": "0.11.0"})

    def _models(self, _: Recorded) -> Reply:
        return Reply.json({"object": "list", "data": [
            {"id": m, "object": "model", "owned_by": self.owned_by, "max_model_len": 32768}
            for m in self.models]})

    def _error(self, message: str, status: int) -> Reply:
        return Reply.json({"error": {"message": message, "type": "BadRequestError",
                                     "param": None, "code": status}}, status)

    def _completions(self, request: Recorded) -> Reply:
        body = request.body
        if body.get("model") not in self.models:
            return self._error(f"The model `{body.get('model')}` does not exist.", 404)
        if self.vllm and "suffix" in body:
            return self._error("suffix is not currently supported", 400)
        if not self.vllm and len(body.get("stop") or []) > 4:
            return self._error("stop: at most 4 sequences", 400)

        def frame(token: str, _: int) -> bytes:
            return sse({"id": "cmpl-1", "object": "text_completion", "created": 1,
                        "model": body["model"],
                        "choices": [{"text": token, "index": 0, "logprobs": None,
                                     "finish_reason": None}]})

        final = sse({"id": "cmpl-1", "object": "text_completion", "created": 1,
                     "model": body["model"],
                     "choices": [{"text": "", "index": 0, "logprobs": None,
                                  "finish_reason": "stop"}]}) + b"data: [DONE]\n\n"
        return Reply(200, "text/event-stream", self.token_pieces(frame, final,
                                                                self.remaining(request)))


class LlamaCppFake(ProtocolFake):
    """llama-server: /health, /props, /v1/models, /completion, /infill (501 unless fim)."""

    completion_paths = ("/completion", "/infill")
    refuses_lone_surrogates = True

    def __init__(self, model_path: str = "/models/qwen2.5-coder-1.5b-q8_0.gguf",
                 fim: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.model_path = model_path
        self.fim = fim
        self.loading = False
        self.cached_tokens = 0
        self.routes = {
            ("GET", "/health"): self._health,
            ("GET", "/props"): lambda r: Reply.json({
                "default_generation_settings": {"n_ctx": 4096},
                "model_path": self.model_path, "total_slots": 1}),
            ("GET", "/v1/models"): lambda r: Reply.json({"object": "list", "data": [
                {"id": self.model_path, "aliases": [self.model_path], "object": "model",
                 "owned_by": "llamacpp"}]}),
            ("POST", "/completion"): self._complete,
            ("POST", "/infill"): self._infill,
        }

    def bad_body(self, message: str) -> Reply:
        return Reply.json({"error": {"code": 500, "type": "server_error",
                                     "message": f"[json.exception.parse_error.101] {message}"}},
                          500)

    def _health(self, _: Recorded) -> Reply:
        if self.loading:
            return Reply.json({"error": {"code": 503, "message": "Loading model",
                                         "type": "unavailable_error"}}, 503)
        return Reply.json({"status": "ok"})

    def _stream(self, request: Recorded) -> Reply:
        started = time.monotonic()
        # n_predict 0 (a warm-up): the prompt is evaluated, nothing generated.
        tokens = [] if self.tokens_asked(request.body or {}) == 0 else self.remaining(request)

        def frame(token: str, i: int) -> bytes:
            return sse({"index": 0, "content": token, "tokens": [i], "stop": False,
                        "tokens_predicted": i + 1, "tokens_evaluated": 10})

        final = sse({"index": 0, "content": "", "stop": True,
                     "stop_type": "eos" if tokens else "limit",
                     "tokens_predicted": len(tokens), "tokens_evaluated": 10,
                     "tokens_cached": 10 + len(tokens),
                     "timings": {"cache_n": self.cached_tokens,
                                 "prompt_n": 10 - self.cached_tokens,
                                 "prompt_ms": (time.monotonic() - started) * 1000,
                                 "predicted_n": len(tokens), "predicted_ms": 1.0}})
        return Reply(200, "text/event-stream", self.token_pieces(frame, final, tokens))

    @staticmethod
    def tokens_asked(body: dict[str, Any]) -> object:
        return body.get("n_predict")

    def _complete(self, request: Recorded) -> Reply:
        return self._stream(request)

    def _infill(self, request: Recorded) -> Reply:
        if not self.fim:
            return Reply.json({"error": {
                "code": 501, "type": "not_supported_error",
                "message": "Infill is not supported by this model: prefix token is missing. "
                           "suffix token is missing. middle token is missing. "}}, 501)
        return self._stream(request)


# --- What each real server answers when asked what it is, and which of its paths an
# API key guards (backend = 'auto', llama_coder/detect.py). -------------------------


def identity_route(fake: ProtocolFake, request: Recorded) -> Reply | None:
    """Identifying answers a fake's own routes leave out: Ollama's OpenAI-compatible
    model list (``owned_by`` "library")."""
    if isinstance(fake, OllamaFake) and (request.method, request.path) == ("GET", "/v1/models"):
        return Reply.json({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1, "owned_by": "library"}
            for m in fake.models]})
    return None


def gate(fake: ProtocolFake, request: Recorded) -> Reply | None:
    """What the real server answers before routing: a missing key, a model loading."""
    return refuse_without_key(fake, request) or loading(fake, request)


def loading(fake: ProtocolFake, request: Recorded) -> Reply | None:
    """A llama-server still loading its model answers 503 to every path but its model
    list (which already names the model)."""
    if not isinstance(fake, LlamaCppFake) or not fake.loading:
        return None
    if request.path in ("/models", "/v1/models", "/api/tags"):
        return None
    return Reply.json({"error": {"code": 503, "message": "Loading model",
                                 "type": "unavailable_error"}}, 503)


def refuse_without_key(fake: ProtocolFake, request: Recorded) -> Reply | None:
    """With ``api_key`` set, the 401 the real server gives a request without it.

    llama-server guards every path but its health check, with an OpenAI-style error;
    vLLM (and the generic OpenAI-compatible fake) guard only ``/v1/*``, vLLM saying
    just ``{"error": "Unauthorized"}``, so its ``/version`` still answers. Ollama has
    no key of its own: the key belongs to a proxy in front of it, which guards all.
    """
    if fake.api_key is None:
        return None
    if request.headers.get("authorization", "") == f"Bearer {fake.api_key}":
        return None
    if isinstance(fake, LlamaCppFake) and request.path in ("/health", "/v1/health"):
        return None
    if isinstance(fake, OpenAIFake) and not request.path.startswith("/v1/"):
        return None
    if isinstance(fake, OpenAIFake) and fake.vllm:
        return Reply.json({"error": "Unauthorized"}, 401)
    return Reply.json({"error": {"code": 401, "message": "Invalid API Key",
                                 "type": "authentication_error"}}, 401)
