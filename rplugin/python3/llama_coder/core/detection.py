"""``backend = 'auto'``: which local server is there, what it is, and what to ask it for.

The pure half of detection (``detect.py`` does the HTTP). Each candidate address is
asked the questions only one kind of server answers (:data:`IDENTIFY_PATHS`); the
answers are classified here, a model and a FIM format are picked, and one server is
chosen among those that answered.

Order of preference when several answer:

1. The ``endpoint`` the user gave, whenever it answers as a model server at all: the
   user pointed there. If it cannot be used (it wants an API key, say), nothing else
   is chosen in its place and the reason says why.
2. Otherwise servers that can answer now, then a llama-server still loading its model
   (seconds away), then an Ollama that first needs the default model downloaded (a
   minute or more).
3. Then by kind: Ollama, llama-server, vLLM, any other OpenAI-compatible server (LM
   Studio). Ollama first as the plugin's long-standing default that can also fetch a
   coder model itself; llama-server next, as it serves the one model its user started
   it with and builds FIM prompts from the model's own tokens; vLLM, a multi-user
   server, after it; a generic OpenAI-compatible server last, as we know least about
   it (LM Studio lists every model it has, chat and embedding models alike).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from llama_coder.core.errors import clip
from llama_coder.core.fim import FALLBACK_TEMPLATE, FimTemplate, detect_template, resolve_template

ServerKind = Literal["ollama", "llamacpp", "vllm", "openai"]  # registry names
KIND_ORDER: tuple[ServerKind, ...] = ("ollama", "llamacpp", "vllm", "openai")
KIND_LABELS: dict[ServerKind, str] = {
    "ollama": "Ollama", "llamacpp": "llama-server", "vllm": "vLLM",
    "openai": "an OpenAI-compatible server",
}

# Ollama, llama-server, vLLM, LM Studio: each on its default port, in preference order.
DEFAULT_CANDIDATES = (
    "http://127.0.0.1:11434",
    "http://127.0.0.1:8080",
    "http://127.0.0.1:8000",
    "http://127.0.0.1:1234",
)
# Asked of every candidate at once; each kind answers its own (see classify()).
IDENTIFY_PATHS = ("/api/version", "/props", "/version", "/v1/models")
OLLAMA_MODELS_PATH = "/api/tags"  # asked of an Ollama once it is known to be one

State = Literal["ready", "download", "auth", "loading", "busy", "no-model", "unknown"]
# "loading": a llama-server that names its model while it loads it (usable in seconds).
USABLE: tuple[State, ...] = ("ready", "download", "loading")
_STATE_RANK: dict[State, int] = {"ready": 0, "loading": 1, "download": 2}


@dataclass(frozen=True)
class Candidate:
    """An address to probe; ``explicit`` when it is the user's ``endpoint``."""

    url: str
    explicit: bool = False

    @property
    def root(self) -> str:
        """Where the identifying paths hang: users often give the ``/v1`` base URL."""
        url = self.url.rstrip("/")
        return url[: -len("/v1")] if url.endswith("/v1") else url

    @property
    def where(self) -> str:
        """The address as messages show it: ``127.0.0.1:8080`` (https stays visible)."""
        return self.url.rstrip("/").removeprefix("http://")


def candidates(endpoint: str = "") -> tuple[Candidate, ...]:
    """The user's ``endpoint`` first (when given), then the default ports not already
    named by it."""
    explicit = endpoint.strip().rstrip("/")
    found = [Candidate(explicit, explicit=True)] if explicit else []
    mine = _same_place(Candidate(explicit).root) if explicit else ""
    found += [Candidate(url) for url in DEFAULT_CANDIDATES if _same_place(url) != mine]
    return tuple(found)


def _same_place(url: str) -> str:
    return url.lower().replace("://localhost", "://127.0.0.1")


@dataclass(frozen=True)
class Answer:
    """What one GET got: an HTTP status and body, or why there was none.

    ``started`` (monotonic seconds) and ``elapsed_ms`` are measured around the whole
    request; ``limit_s`` is the longest it was allowed (connect plus read timeout).
    """

    url: str
    status: int | None  # None: no HTTP answer (see ``failure``)
    body: Any = None  # parsed JSON, else the text
    failure: str = ""  # "refused", "no connection within 0.5 s", ...
    started: float = 0.0
    elapsed_ms: float = 0.0
    limit_s: float = 0.0

    def json(self) -> dict[str, Any] | None:
        """The body when the answer was a 200 with a JSON object."""
        return self.body if self.status == 200 and isinstance(self.body, dict) else None

    def describe(self) -> str:
        """One line for :checkhealth: ``200 {"version": "0.12.0"}`` or ``refused``."""
        if self.status is None:
            return self.failure
        if self.body is None or self.body == "":
            return str(self.status)
        shown = self.body if isinstance(self.body, str) else _compact(self.body)
        return f"{self.status} {clip(shown.strip(), 120)}"


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class Identity:
    """What a candidate turned out to be. ``kind`` None: nothing there (``answered``
    False) or something that is not a model server we know."""

    kind: ServerKind | None
    label: str  # "Ollama", "llama-server", "vLLM", "LM Studio", ...
    answered: bool = True
    version: str = ""
    state: State = "ready"  # before a model is chosen: ready, auth, loading, busy, unknown
    problem: str = ""  # why it cannot be used, for the reason and :checkhealth
    models: tuple[str, ...] = ()  # what it says it serves (not Ollama's: see OllamaModel)


def classify(answers: Mapping[str, Answer]) -> Identity:
    """The server behind one address, from its answers to :data:`IDENTIFY_PATHS`."""
    if not any(a.status is not None for a in answers.values()):
        return Identity(None, "nothing", answered=False, state="unknown",
                        problem=_no_answer(answers.values()))
    props = _get(answers, "/props")
    ollama = _get(answers, "/api/version")
    version = _get(answers, "/version")
    listing = _get(answers, "/v1/models")
    listing_json = listing.json()
    listed = model_ids(listing_json)
    owners = _owners(listing_json)

    props_json = props.json()
    llama_props = props_json is not None and any(
        k in props_json for k in ("default_generation_settings", "total_slots", "model_path"))
    if llama_props or (props.status != 503 and "llamacpp" in owners):
        served = listed or _props_models(props_json or {})
        build = (props_json or {}).get("build_info")
        return _served("llamacpp", "llama-server", served, build=build)
    if props.status == 503 and "loading" in _error_text(props.body).lower():
        return Identity("llamacpp", "llama-server", state="loading", models=listed,
                        problem="is still loading its model (503)")
    ollama_json = ollama.json()
    if ollama_json is not None and isinstance(ollama_json.get("version"), str):
        return Identity("ollama", "Ollama", version=ollama_json["version"])
    version_json = version.json()
    vllm_version = (version_json.get("version") if version_json is not None
                    and isinstance(version_json.get("version"), str) else None)
    if "vllm" in owners or (vllm_version is not None and not owners):
        if listing.status in (401, 403):
            return _locked("vllm", "vLLM", listing, vllm_version or "")
        return _served("vllm", "vLLM", listed, build=vllm_version)
    if listing_json is not None and isinstance(listing_json.get("data"), list):
        label = "LM Studio" if "organization_owner" in owners else KIND_LABELS["openai"]
        return _served("openai", label, listed)
    locked = [a for a in answers.values() if a.status in (401, 403)]
    if locked:
        return _locked("openai", KIND_LABELS["openai"], locked[0], "")
    if listing.status in (429, 503):
        return Identity("openai", KIND_LABELS["openai"], state="busy",
                        problem=f"is busy or still loading ({listing.status})")
    return Identity(None, "not a model server", state="unknown",
                    problem=f"answered, but not as a model server we know "
                            f"({_statuses(answers)})")


def _served(kind: ServerKind, label: str, models: Sequence[str], build: Any = None) -> Identity:
    version = str(build) if isinstance(build, str) else ""
    if not models:
        return Identity(kind, label, version=version, state="no-model",
                        problem="lists no model")
    return Identity(kind, label, version=version, models=tuple(models))


def _locked(kind: ServerKind, label: str, answer: Answer, version: str) -> Identity:
    return Identity(kind, label, version=version, state="auth",
                    problem=f"needs an API key ({answer.status}): set api_key_env "
                            "(or bearer_token)")


def _get(answers: Mapping[str, Answer], path: str) -> Answer:
    return answers.get(path) or Answer(path, None, failure="not asked")


def _no_answer(answers: Iterable[Answer]) -> str:
    failures = sorted({a.failure for a in answers if a.failure})
    return "; ".join(failures) or "no answer"


def _statuses(answers: Mapping[str, Answer]) -> str:
    return ", ".join(f"{path} {a.status}" for path, a in answers.items()
                     if a.status is not None)


def _error_text(body: Any) -> str:
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict):
            return str(err.get("message", ""))
        return str(err)
    return str(body or "")


def model_ids(listing: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The ids of an OpenAI-style ``/v1/models`` answer."""
    items = listing.get("data") if listing else None
    return tuple(str(m["id"]) for m in (items if isinstance(items, list) else [])
                 if isinstance(m, dict) and isinstance(m.get("id"), str))


def _owners(listing: Mapping[str, Any] | None) -> set[str]:
    items = listing.get("data") if listing else None
    return {str(m.get("owned_by")) for m in (items if isinstance(items, list) else [])
            if isinstance(m, dict) and m.get("owned_by")}


def _props_models(props: Mapping[str, Any]) -> tuple[str, ...]:
    """llama-servers older than /v1/models name their model in /props."""
    for key in ("model_alias", "model_path"):
        if isinstance(props.get(key), str) and props[key]:
            return (props[key],)
    return ()


# --- choosing a model --------------------------------------------------------------


@dataclass(frozen=True)
class OllamaModel:
    name: str
    size: int | None = None  # bytes on disk, when /api/tags says


def ollama_models(tags: Any) -> tuple[OllamaModel, ...]:
    """The models of an Ollama ``/api/tags`` answer."""
    items = tags.get("models") if isinstance(tags, dict) else None
    found = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        name = item.get("name") or item.get("model")
        if isinstance(name, str) and name:
            size = item.get("size")
            found.append(OllamaModel(name, size if isinstance(size, int) else None))
    return tuple(found)


def is_coder(name: str) -> bool:
    """A model whose family we know to be trained for fill-in-the-middle."""
    return detect_template(name) not in (None, FALLBACK_TEMPLATE)


def _is_embedding(name: str) -> bool:
    return bool(re.search(r"embed|rerank|bge-|minilm", name.lower()))


_BASE = re.compile(r"base|(?:^|[-_:.])code(?:$|[-_.])")  # codellama:7b-code, stable-code:3b-code
_TUNED = re.compile(r"instruct|chat|(?:^|[-_:.])it(?:$|[-_.])")


def variant_rank(name: str) -> int:
    """0 for base (pretrained) variants, the best at filling in code; 2 for instruct or
    chat variants; 1 when the name does not say."""
    tag = name.lower().rsplit("/", 1)[-1]
    tag = tag.split(":", 1)[1] if ":" in tag else tag
    if _BASE.search(tag):
        return 0
    return 2 if _TUNED.search(tag) else 1


def choose_ollama_model(models: Sequence[OllamaModel], default: str,
                        same: Callable[[str], str] = str) -> tuple[str, bool]:
    """(model, present): a coder model on the server, base variants first (the default
    model first among equals, then the smaller, as inline completion wants speed); else
    ``default``, not present, to be offered for download. ``same`` maps a name to
    the form Ollama compares (a bare name means ``:latest``)."""
    coders = [m for m in models if is_coder(m.name) and not _is_embedding(m.name)]
    if not coders:
        return default, any(same(m.name) == same(default) for m in models)
    best = min(coders, key=lambda m: (
        variant_rank(m.name), same(m.name) != same(default),
        m.size if m.size is not None else float("inf"), m.name))
    return best.name, True


def choose_served_model(ids: Sequence[str]) -> str | None:
    """Of the models an OpenAI-compatible server lists: coder models first, base
    variants first, never an embedding model; in the server's order otherwise."""
    usable = [i for i in ids if not _is_embedding(i)]
    if not usable:
        return None
    return min(usable, key=lambda i: (not is_coder(i), variant_rank(i), usable.index(i)))


# --- choosing a server ---------------------------------------------------------------


@dataclass(frozen=True)
class Server:
    """One candidate, what it is and what we would ask it for."""

    candidate: Candidate
    identity: Identity
    model: str = ""
    state: State = "unknown"
    format: str = ""
    coder_models: tuple[str, ...] = ()  # Ollama: the coder models it has

    @property
    def usable(self) -> bool:
        return self.identity.kind is not None and self.state in USABLE and bool(self.model)

    @property
    def label(self) -> str:
        return self.identity.label

    def describe(self) -> str:
        """One line for :checkhealth."""
        ident = self.identity
        if ident.kind is None:
            return f"{self.candidate.where}: {ident.problem}"
        name = f"{ident.label} {ident.version}".strip()
        if not self.usable:
            return f"{self.candidate.where}: {name} {ident.problem}"
        what = (f"{self.candidate.where}: {name}, model {short_model(self.model)}, "
                f"format {self.format}")
        return what + {"download": " (to download)", "loading": " (loading)"}.get(
            self.state, "")


def server_for(
    candidate: Candidate,
    identity: Identity,
    *,
    wanted: str = "",
    format_name: str = "auto",
    custom: Mapping[str, FimTemplate] | None = None,
    ollama: Sequence[OllamaModel] = (),
    ollama_default: str = "",
    same: Callable[[str], str] = str,
) -> Server:
    """What to ask ``candidate`` for: ``wanted`` (the user's ``model``) where the server
    has it or can download it; else a model of the server's choosing (see
    :func:`choose_ollama_model` and :func:`choose_served_model`)."""
    if identity.kind is None or identity.state not in ("ready", "loading") or (
            identity.state == "loading" and not identity.models):
        return Server(candidate, identity, state=identity.state)
    coders: tuple[str, ...] = ()
    if identity.kind == "ollama":
        coders = tuple(m.name for m in ollama if is_coder(m.name))
        if wanted:
            model, present = wanted, any(same(m.name) == same(wanted) for m in ollama)
        else:
            model, present = choose_ollama_model(ollama, ollama_default, same)
        state: State = "ready" if present else "download"
    else:
        listed = identity.models
        chosen = wanted if wanted in listed else choose_served_model(listed)
        if chosen is None:
            return Server(candidate, replace(
                identity, state="no-model",
                problem="lists only embedding models, none to complete with"), state="no-model")
        model, state = chosen, identity.state
    fmt = resolve_template(model, format_name, custom).template.name
    return Server(candidate, identity, model, state, fmt, coders)


def rank(server: Server, position: int) -> tuple[int, int, int, int]:
    """Sort key of a usable server (see the module's docstring)."""
    assert server.identity.kind is not None
    return (0 if server.candidate.explicit else 1, _STATE_RANK[server.state],
            KIND_ORDER.index(server.identity.kind), position)


@dataclass(frozen=True)
class Choice:
    """The server to use: what the engine's configuration takes, and what to say."""

    backend: ServerKind
    endpoint: str
    model: str
    format: str
    label: str
    download: bool = False  # Ollama has no coder model: offer ``model`` for download
    loading: bool = False  # llama-server is still loading it: busy for a few seconds
    passed_over: tuple[str, ...] = ()  # the user's endpoint, when nothing answered there

    def summary(self) -> str:
        """The one line said once when the choice is made (without "llama-coder: ")."""
        text = (f"{self.label} at {_where(self.endpoint)}, {short_model(self.model)}, "
                f"format {self.format}")
        if self.download:
            text += " (not on the server yet: offering to download it)"
        if self.loading:
            text += " (still loading it)"
        if self.passed_over:
            text += f"; nothing usable at {', '.join(self.passed_over)}"
        return text


def _where(url: str) -> str:
    return Candidate(url).where


def short_model(model: str) -> str:
    """A GGUF path shown as its file name without ``.gguf``; other names as they are."""
    if not (model.lower().endswith(".gguf") or model.startswith(("/", "~"))):
        return model  # an Ollama tag or a Hugging Face id: as the server knows it
    name = model.replace("\\", "/").rsplit("/", 1)[-1]
    return name[: -len(".gguf")] if name.lower().endswith(".gguf") else name


def choose(servers: Sequence[Server]) -> tuple[Choice | None, str]:
    """The server to use and an empty reason, or None and why nothing can be used."""
    explicit = [s for s in servers if s.candidate.explicit and s.identity.kind is not None]
    if explicit and not explicit[0].usable:
        s = explicit[0]
        return None, f"{s.candidate.where} ({s.label}) {s.identity.problem}"
    usable = [(rank(s, i), s) for i, s in enumerate(servers) if s.usable]
    if not usable:
        return None, no_server_reason(servers)
    best = min(usable, key=lambda pair: pair[0])[1]
    assert best.identity.kind is not None
    passed = tuple(s.candidate.where for s in servers
                   if s.candidate.explicit and s is not best)
    return Choice(best.identity.kind, best.candidate.url, best.model, best.format, best.label,
                  download=best.state == "download", loading=best.state == "loading",
                  passed_over=passed), ""


def no_server_reason(servers: Sequence[Server]) -> str:
    """Why nothing can be used: each server that answered and its problem, then the
    addresses where nothing answered."""
    problems = [f"{s.candidate.where} ({s.label}) {s.identity.problem}" for s in servers
                if s.identity.answered and s.identity.kind is not None]
    problems += [f"{s.candidate.where} {s.identity.problem}" for s in servers
                 if s.identity.answered and s.identity.kind is None]
    silent = [s.candidate for s in servers if not s.identity.answered]
    hint = "start one, or set backend and endpoint"
    if not problems:
        return f"no server answered at {join_places(silent)}; {hint}"
    text = "no usable server: " + "; ".join(problems)
    if silent:
        text += f"; nothing answered at {join_places(silent)}"
    return text


def join_places(places: Sequence[Candidate]) -> str:
    """``127.0.0.1:11434, :8080, :8000``: the host is said once while it repeats."""
    shown: list[str] = []
    last_host = ""
    for place in places:
        where = place.where
        host, sep, port = where.rpartition(":")
        if sep and host == last_host and port.isdigit():
            shown.append(f":{port}")
        else:
            shown.append(where)
        last_host = host if sep and port.isdigit() else ""
    return ", ".join(shown)


@dataclass(frozen=True)
class Detection:
    """Every probe with its answer, what each candidate is, and the choice."""

    candidates: tuple[Candidate, ...]
    probes: tuple[Answer, ...]
    servers: tuple[Server, ...]
    chosen: Choice | None
    reason: str  # why nothing was chosen ("" when something was)
    connect_timeout_s: float
    read_timeout_s: float

    def summary(self) -> str:
        """What was chosen, or why nothing was: one line, without "llama-coder: "."""
        return self.chosen.summary() if self.chosen is not None else self.reason

    def report(self) -> dict[str, Any]:
        """For :checkhealth: every probe and its answer, every server, the choice."""
        return {
            "chosen": None if self.chosen is None else {
                "backend": self.chosen.backend, "endpoint": self.chosen.endpoint,
                "model": self.chosen.model, "format": self.chosen.format,
                "download": self.chosen.download,
            },
            "summary": self.summary(),
            "servers": [s.describe() for s in self.servers],
            "probes": [
                {"url": p.url, "answer": p.describe(), "ms": round(p.elapsed_ms, 1)}
                for p in self.probes
            ],
            "timeouts": {"connect_s": self.connect_timeout_s, "read_s": self.read_timeout_s},
        }
