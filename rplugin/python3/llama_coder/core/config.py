"""The configuration schema: the one source of defaults, validation and documentation.

``SCHEMA`` lists every key (dotted name, type, default, one-line doc, and who reads it:
the engine or the Lua shim). ``parse_config`` turns what the user passed to ``setup()``
into a :class:`Config` of the engine's keys, collecting every problem with the key's
dotted name (the keys only Lua reads are checked by lua/llama_coder/config.lua, from
the schema written to lua/llama_coder/schema.lua, so each key has one validator); a
bad value falls back to its default and an unknown key is reported with a
did-you-mean, so a typo never crashes the plugin and is never silently ignored.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# "key" and "filetypes" are only Lua's (lua/llama_coder/config.lua checks them).
Kind = Literal["string", "integer", "number", "boolean", "choice", "formats", "key",
               "filetypes", "routes", "fallback", "duration"]
Consumer = Literal["engine", "lua"]

BACKENDS = ("auto", "ollama", "openai", "vllm", "llamacpp")
AUTO = "auto"  # the ``backend`` that finds the server itself (detect.py)
MULTILINE_CHOICES = ("auto", "always", "never")  # see core/place.py
# Filetypes where automatic suggestions are off unless `filetypes` says otherwise.
DEFAULT_FILETYPES: dict[str, bool] = {
    "*": True, "help": False, "gitcommit": False, "gitrebase": False, "hgcommit": False,
    "svn": False, "cvs": False, "TelescopePrompt": False, "TelescopeResults": False,
    "snacks_picker_input": False, "minifiles": False, "oil": False, "qf": False,
    "netrw": False, "NvimTree": False, "neo-tree": False, "lazy": False, "mason": False,
    "checkhealth": False, "dap-repl": False, "noice": False, ".": False,
}

DEFAULT_ENDPOINTS = {
    "ollama": "http://127.0.0.1:11434",
    "llamacpp": "http://127.0.0.1:8080",
    "vllm": "http://127.0.0.1:8000",
}


@dataclass(frozen=True)
class Option:
    """One configuration key."""

    key: str
    kind: Kind
    default: Any
    doc: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    consumer: Consumer = "engine"

    def describe_type(self) -> str:
        if self.kind == "choice":
            return " | ".join(repr(c) for c in self.choices)
        if self.kind == "formats":
            return "table of templates"
        if self.kind == "key":
            return "key or false"
        if self.kind == "filetypes":
            return "table of filetype = boolean"
        if self.kind == "routes":
            return "table of filetype = server table"
        if self.kind == "fallback":
            return "list of server tables"
        if self.kind == "duration":
            return "seconds or duration string"
        return self.kind


SCHEMA: tuple[Option, ...] = (
    Option("backend", "choice", AUTO, "Which kind of server answers: auto (find the local "
           "server: your `endpoint` first, then Ollama on 11434, llama-server on 8080, vLLM "
           "on 8000, LM Studio on 1234; see :help llama-coder-auto), ollama, openai (any "
           "OpenAI-compatible /v1/completions server), vllm or llamacpp (llama-server).",
           choices=BACKENDS),
    Option("endpoint", "string", "", "Server URL (http or https). Empty: the backend's default "
           "(Ollama http://127.0.0.1:11434, llama.cpp http://127.0.0.1:8080, vLLM "
           "http://127.0.0.1:8000); the openai backend needs one. With backend auto: the "
           "address tried first, and the kind of server is found out."),
    Option("model", "string", "", "Model name as the server knows it. Empty: Ollama uses "
           "qwen2.5-coder:1.5b-base; the other servers use the model they serve. With "
           "backend auto: a coder model the server has, else Ollama offers to download "
           "qwen2.5-coder:1.5b-base."),
    Option("format", "string", "auto", "FIM template: auto (detect from the model name), a "
           "builtin name (qwen, deepseek, codellama, starcoder, codegemma, codestral, "
           "prefix-only) or a name from `formats`."),
    Option("formats", "formats", {}, "Your own FIM templates by name: {prefix=, suffix=, "
           "middle=, order='psm'|'spm', stop={...}}; select one with `format`."),
    Option("routes", "routes", {}, "A different server per filetype: "
           "{python = {backend=, endpoint=, model=, ...}, ['*'] = {...}}; each table takes the "
           "server keys (backend, endpoint, model, format, bearer_token, api_key_env, "
           "max_tokens, temperature, and the ollama, openai, llamacpp, timeout and tls "
           "sections) over the top-level ones; '*' is for every other filetype."),
    Option("fallback", "fallback", [], "Servers tried in order when the one for the filetype "
           "cannot be reached or answers with an error: a list of server tables as in "
           "`routes`. A server that failed is tried again after `fallback_retry` ms."),
    Option("fallback_retry", "integer", 30000, "Milliseconds before a server that failed is "
           "tried again (first in line again if it is the filetype's own).", minimum=0),
    Option("bearer_token", "string", "", "Bearer token sent as Authorization header. Prefer "
           "api_key_env; the value is never logged or shown."),
    Option("api_key_env", "string", "", "Name of an environment variable that holds the API "
           "key (sent as a bearer token). Wins over bearer_token."),
    Option("max_lines", "integer", 16, "Stop the suggestion after this many lines once its "
           "brackets are balanced.", minimum=1),
    Option("multiline", "choice", "auto", "How many lines a suggestion may have. auto: one "
           "line in the middle of a line (code after the cursor that is not only closers "
           "such as `)`, quotes, `;` or `end`), where the server is told to stop at the "
           "newline, and one line of text in a doc comment or docstring (a block comment "
           "that begins its line, or triple quotes that begin theirs after a line ending "
           "in `:` or first in the file): the rest of the cursor's line, or the next line "
           "when the model starts one; elsewhere several, up to the end of the block. "
           "always: several everywhere. never: one line everywhere.",
           choices=MULTILINE_CHOICES),
    Option("max_tokens", "integer", 256, "Most tokens the server may generate per "
           "suggestion.", minimum=1),
    Option("temperature", "number", 0.2, "Sampling temperature.", minimum=0, maximum=2),
    Option("alternatives", "integer", 3, "Suggestions to cycle through with keymap.next/prev "
           "for one place: more samples from the same server, or the fallback servers' "
           "answers when there are fallbacks; 1 turns cycling off.", minimum=1, maximum=8,
           consumer="lua"),
    Option("prefetch", "boolean", True, "When a suggestion is shown, ask for the one that "
           "would follow it once accepted, so accepting and going on is instant (at most one "
           "such request at a time, cancelled as soon as you type something else)."),
    Option("delay", "integer", 250, "Milliseconds after the last change before a suggestion "
           "is requested; -1 turns automatic suggestions off (manual trigger only).",
           minimum=-1, maximum=5000, consumer="lua"),
    Option("notebook.include_markup", "boolean", True, "In percent-format notebooks, include "
           "markdown cells (as comments) in the prompt."),
    Option("notebook.include_cell_outputs", "boolean", False, "In percent-format notebooks "
           "with a paired .ipynb beside them, include the text outputs of earlier cells."),
    Option("notebook.cell_output_limit", "integer", 256, "Characters kept of each cell "
           "output.", minimum=0),
    Option("context.prefix_lines", "integer", 60, "Lines before the cursor sent as prefix. "
           "The window's start moves in steps of a quarter of this, so consecutive prompts "
           "share their start and the server reuses its KV cache.", minimum=0),
    Option("context.suffix_lines", "integer", 12, "Lines after the cursor sent as suffix; "
           "short, since everything after the edit point is evaluated anew each time.",
           minimum=0),
    Option("context.prefix_chars", "integer", 6000, "Character budget of the prefix (whole "
           "lines are dropped from its start to fit; the cursor line is cut).", minimum=0),
    Option("context.suffix_chars", "integer", 1500, "Character budget of the suffix.",
           minimum=0),
    Option("context.extra_chars", "integer", 1500, "Character budget for text from other "
           "buffers (recently entered, written or yanked from): llama.cpp /infill gets it as "
           "input_extra, Qwen models in their repo-level format, others as comments before "
           "the prefix. 0 turns it off.", minimum=0),
    Option("context.extra_chunks", "integer", 16, "Chunks of other buffers kept (the oldest "
           "goes first; a chunk much like one kept replaces it).", minimum=0),
    Option("context.chunk_lines", "integer", 32, "Lines per chunk: around the cursor of an "
           "entered or written buffer, or the start of a yank.", minimum=4),
    Option("cache.size", "integer", 256, "Suggestions kept in the in-memory LRU cache; 0 turns "
           "the cache off.", minimum=0),
    Option("cache.disk", "boolean", False, "Also keep suggestions on disk (a SQLite file under "
           "stdpath('cache')/llama-coder, shared by all your Neovims), so reopening a file "
           "shows instant suggestions where nothing changed."),
    Option("cache.disk_size", "integer", 5000, "Suggestions kept on disk; the least recently "
           "used go first.", minimum=1),
    Option("timeout.connect", "integer", 3000, "Milliseconds to wait for the connection.",
           minimum=1),
    Option("timeout.first_chunk", "integer", 30000, "Milliseconds to wait for the first "
           "chunk of a suggestion (prompt evaluation on a CPU can take seconds).", minimum=1),
    Option("timeout.total", "integer", 60000, "Milliseconds a whole suggestion may take "
           "(model downloads have no total limit; see timeout.pull_idle).", minimum=1),
    Option("timeout.pull_idle", "integer", 300000, "Milliseconds a model download (Ollama) "
           "may go without progress before it counts as failed. Generous because Ollama "
           "says nothing while it verifies a downloaded model, which takes minutes for a "
           "big model on a slow disk.", minimum=1),
    Option("ollama.keep_alive", "duration", "30m", "How long Ollama keeps the model loaded "
           "after a request: a duration with a unit ('30m', '1h30m', '-1m'), or a number of "
           "seconds (-1 or any negative number: for ever; 0: unload at once). A number "
           "written as a string ('-1') is sent as that number."),
    Option("openai.send_suffix", "boolean", False, "Send prefix and suffix as `prompt` and "
           "`suffix` and let the server build the FIM prompt (only for servers that support "
           "`suffix`; vLLM and llama.cpp do not)."),
    Option("openai.max_stop", "integer", 4, "Most stop strings sent to an OpenAI-compatible "
           "server (OpenAI allows 4); the rest are applied on our side.", minimum=0),
    Option("llamacpp.t_max_predict_ms", "integer", 1000, "llama-server stops generating this "
           "many milliseconds after the first new line (bounds server work per suggestion).",
           minimum=0),
    Option("tls.ca_bundle", "string", "", "PEM file of CA certificates to trust for https "
           "endpoints (a self-signed or company CA). Certificates are always verified."),
    Option("keymap.accept", "key", "<Tab>", "Insert-mode key that accepts the suggestion; "
           "without a suggestion the key does what it did before. false: no mapping.",
           consumer="lua"),
    Option("keymap.accept_word", "key", "<C-Right>", "Accept the next word of the suggestion.",
           consumer="lua"),
    Option("keymap.accept_line", "key", "<C-Down>", "Accept the next line of the suggestion.",
           consumer="lua"),
    Option("keymap.dismiss", "key", "<C-]>", "Hide the suggestion.", consumer="lua"),
    Option("keymap.next", "key", "<M-]>", "Show the next of several suggestions (the first "
           "press asks for them).", consumer="lua"),
    Option("keymap.prev", "key", "<M-[>", "Show the previous of several suggestions.",
           consumer="lua"),
    Option("keymap.trigger", "key", "<M-\\>", "Ask for a suggestion now (works with "
           "delay = -1).", consumer="lua"),
    Option("filetypes", "filetypes", dict(DEFAULT_FILETYPES), "Filetypes with automatic "
           "suggestions on (true) or off (false), merged over the defaults (off for help, "
           "gitcommit, pickers and file trees...); '*' is every other filetype.",
           consumer="lua"),
    Option("trigger.min_chars", "integer", 1, "Least non-blank characters before the cursor "
           "(in the prompt window) for an automatic suggestion.", minimum=0, consumer="lua"),
    Option("ui.hide_during_completion", "boolean", True, "Hide the suggestion while a popup "
           "menu (native, nvim-cmp, blink.cmp) is visible.", consumer="lua"),
    Option("ui.show_info", "boolean", False, "Add the last suggestion's timings (total time, "
           "tokens/s, or 'cached') to status(), for statuslines.", consumer="lua"),
    Option("ui.line_by_line", "boolean", True, "Show a suggestion's first line as soon as it "
           "has streamed in and passed the checks, then each further line, instead of once "
           "complete (a line once shown stays; accepting takes what is shown)."),
    Option("ui.rest_after", "integer", 250, "With ui.line_by_line: milliseconds a block "
           "suggestion's first line stays on screen before the rest of the block is asked "
           "for (typing on in the meantime costs the server no more tokens); 0 asks for the "
           "whole block at once. Where the server builds the FIM prompt itself (llama.cpp "
           "/infill, openai.send_suffix), and with ui.show_while_streaming, the whole block "
           "is always asked for at once.",
           minimum=0, maximum=5000),
    Option("ui.show_while_streaming", "boolean", False, "Draw the suggestion while it streams "
           "in, piece by piece, even before a line is complete (goes further than "
           "ui.line_by_line; the end may still be cut by post-processing)."),
    Option("stats.persist", "boolean", True, "Keep the counts of :LlamaCoderStats across "
           "sessions in a small file under stdpath('state') (numbers and server names only, "
           "never code or prompts).", consumer="lua"),
    Option("python", "string", "", "Python for the engine, used as it is (with the packages "
           "you installed there). Empty: the environment :LlamaCoderInstall built, else "
           "g:python3_host_prog, else the plugin's own .venv, else python3.", consumer="lua"),
    Option("log.level", "choice", "info", "Engine log level (the log file is under "
           "stdpath('log')).", choices=("debug", "info", "warn", "error")),
)

OPTIONS: dict[str, Option] = {opt.key: opt for opt in SCHEMA}
# Tables of options (``ui``, ``timeout``...): written as nested tables in setup().
SECTIONS = frozenset(opt.key.rsplit(".", 1)[0] for opt in SCHEMA if "." in opt.key)


@dataclass(frozen=True)
class NotebookConfig:
    include_markup: bool
    include_cell_outputs: bool
    cell_output_limit: int


@dataclass(frozen=True)
class ContextConfig:
    prefix_lines: int
    suffix_lines: int
    prefix_chars: int
    suffix_chars: int
    extra_chars: int
    extra_chunks: int
    chunk_lines: int


@dataclass(frozen=True)
class CacheConfig:
    size: int
    disk: bool
    disk_size: int


@dataclass(frozen=True)
class TimeoutConfig:
    connect: int
    first_chunk: int
    total: int
    pull_idle: int


@dataclass(frozen=True)
class OllamaConfig:
    keep_alive: str | int | float  # a Go duration string, or seconds (negative: for ever)


@dataclass(frozen=True)
class OpenAIConfig:
    send_suffix: bool
    max_stop: int


@dataclass(frozen=True)
class LlamaCppConfig:
    t_max_predict_ms: int


@dataclass(frozen=True)
class TlsConfig:
    ca_bundle: str


@dataclass(frozen=True)
class UiConfig:
    line_by_line: bool
    rest_after: int
    show_while_streaming: bool


@dataclass(frozen=True)
class LogConfig:
    level: str


@dataclass(frozen=True)
class Config:
    """A validated configuration of the keys the engine reads (the keys only Lua reads
    are checked and reported by lua/llama_coder/config.lua). Build it with
    :func:`parse_config`."""

    backend: str
    endpoint: str
    model: str
    format: str
    formats: Mapping[str, Mapping[str, Any]]
    routes: Mapping[str, Config]
    fallback: tuple[Config, ...]
    fallback_retry: int
    bearer_token: str = field(repr=False)
    api_key_env: str
    max_lines: int
    multiline: str
    max_tokens: int
    temperature: float
    prefetch: bool
    notebook: NotebookConfig
    context: ContextConfig
    cache: CacheConfig
    timeout: TimeoutConfig
    ollama: OllamaConfig
    openai: OpenAIConfig
    llamacpp: LlamaCppConfig
    tls: TlsConfig
    ui: UiConfig
    log: LogConfig

    @property
    def resolved_endpoint(self) -> str:
        return self.endpoint or DEFAULT_ENDPOINTS.get(self.backend, "")


_SECTIONS: dict[str, type[Any]] = {
    "notebook": NotebookConfig,
    "context": ContextConfig,
    "cache": CacheConfig,
    "timeout": TimeoutConfig,
    "ollama": OllamaConfig,
    "openai": OpenAIConfig,
    "llamacpp": LlamaCppConfig,
    "tls": TlsConfig,
    "ui": UiConfig,
    "log": LogConfig,
}


@dataclass
class ParseResult:
    config: Config
    problems: list[str]


def _is_int(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and value.is_integer()


def _range_text(opt: Option) -> str:
    if opt.minimum is not None and opt.maximum is not None:
        return f" from {_num(opt.minimum)} to {_num(opt.maximum)}"
    if opt.minimum is not None:
        return f" >= {_num(opt.minimum)}"
    if opt.maximum is not None:
        return f" <= {_num(opt.maximum)}"
    return ""


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_number(opt: Option, value: object, integer: bool) -> tuple[Any, str | None]:
    noun = "an integer" if integer else "a number"
    ok = _is_int(value) if integer else (
        isinstance(value, (int, float)) and not isinstance(value, bool)
    )
    if ok:
        assert isinstance(value, (int, float))
        number = int(value) if integer else float(value)
        low_ok = opt.minimum is None or number >= opt.minimum
        high_ok = opt.maximum is None or number <= opt.maximum
        if low_ok and high_ok:
            return number, None
    return None, f"{opt.key} must be {noun}{_range_text(opt)}, got {_show(value)}"


def _check_formats(opt: Option, value: object) -> tuple[Any, str | None]:
    if isinstance(value, list) and not value:
        return {}, None  # an empty Lua table arrives as an empty list
    if not isinstance(value, Mapping):
        return None, f"{opt.key} must be a table of templates, got {_show(value)}"
    parsed: dict[str, dict[str, Any]] = {}
    for name, spec in value.items():
        where = f"{opt.key}.{name}"
        if not isinstance(spec, Mapping):
            return None, f"{where} must be a table with prefix, suffix, middle, got {_show(spec)}"
        unknown = set(spec) - {"prefix", "suffix", "middle", "order", "stop"}
        if unknown:
            return None, f"{where} has unknown fields: {', '.join(sorted(map(str, unknown)))}"
        for part in ("prefix", "suffix", "middle"):
            if not isinstance(spec.get(part, ""), str):
                return None, f"{where}.{part} must be a string, got {_show(spec.get(part))}"
        if spec.get("order", "psm") not in ("psm", "spm"):
            return None, f"{where}.order must be 'psm' or 'spm', got {_show(spec.get('order'))}"
        stop = spec.get("stop", [])
        if not isinstance(stop, list) or not all(isinstance(s, str) and s for s in stop):
            return None, f"{where}.stop must be a list of non-empty strings, got {_show(stop)}"
        parsed[str(name)] = dict(spec)
    return parsed, None


# Go's time.ParseDuration, which Ollama applies to a keep_alive string: an optional sign,
# then numbers each followed by a unit ("1h30m", "-1m", "1.5h"); only "0" needs no unit.
_DURATION_PART = re.compile(r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_DURATION = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)")
_NANOSECONDS = {"ns": 1, "us": 1e3, "µs": 1e3, "μs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9,
                "h": 3600e9}
_MAX_DURATION_NS = 2**63 - 1  # Go's time.Duration; longer ones are rejected


def _seconds(value: float) -> int | float:
    return int(value) if float(value).is_integer() else float(value)


def _check_duration(opt: Option, value: object) -> tuple[Any, str | None]:
    """What Ollama parses as keep_alive: a JSON number (seconds) or a Go duration string.
    A number written as a string becomes that number (Ollama rejects "-1")."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return _seconds(value), None
    if isinstance(value, str):
        text = value.strip()
        if _NUMBER.fullmatch(text):
            return _seconds(float(text)), None
        if _DURATION.fullmatch(text) and sum(
            float(number) * _NANOSECONDS[unit] for number, unit in _DURATION_PART.findall(text)
        ) <= _MAX_DURATION_NS:
            return text, None
    return None, (f"{opt.key} must be a number of seconds (negative: for ever) or a duration "
                  f"with a unit such as '30m', '2h' or '-1m', got {_show(value)}")


def _check(opt: Option, value: object) -> tuple[Any, str | None]:
    """The cleaned value, or a message naming the key."""
    if opt.kind == "integer":
        return _check_number(opt, value, integer=True)
    if opt.kind == "number":
        return _check_number(opt, value, integer=False)
    if opt.kind == "boolean":
        if isinstance(value, bool):
            return value, None
        return None, f"{opt.key} must be true or false, got {_show(value)}"
    if opt.kind == "choice":
        if value in opt.choices:
            return value, None
        return None, f"{opt.key} must be one of {opt.describe_type()}, got {_show(value)}"
    if opt.kind == "string":
        if isinstance(value, str):
            return value, None
        return None, f"{opt.key} must be a string, got {_show(value)}"
    if opt.kind == "duration":
        return _check_duration(opt, value)
    if opt.kind == "routes":
        if isinstance(value, list) and not value:
            return {}, None
        if isinstance(value, Mapping) and all(
            isinstance(k, str) and isinstance(v, Mapping) for k, v in value.items()
        ):
            return dict(value), None
        return None, f"{opt.key} must be a table of filetype = server table, got {_show(value)}"
    if opt.kind == "fallback":
        if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
            return list(value), None
        return None, f"{opt.key} must be a list of server tables, got {_show(value)}"
    return _check_formats(opt, value)


def normalise_endpoint(raw: str) -> tuple[str, str | None]:
    """Trim, strip trailing slashes; reject what is not an http(s) URL."""
    endpoint = raw.strip().rstrip("/")
    if not endpoint:
        return "", None
    scheme, sep, rest = endpoint.partition("://")
    if not sep or scheme.lower() not in ("http", "https") or not rest:
        return "", f"endpoint must be an http:// or https:// URL, got {_show(raw)}"
    return endpoint, None


def _flatten(raw: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested tables to dotted keys; stops at schema leaves (``formats`` stays a table).
    A section given as an empty table (``ui = {}``, which arrives from Lua as an empty
    list) sets nothing."""
    flat: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if dotted in SECTIONS and isinstance(value, list) and not value:
            continue
        if dotted in OPTIONS or not isinstance(value, Mapping):
            flat[dotted] = value
        else:
            flat.update(_flatten(value, dotted + "."))
    return flat


def _unknown_message(key: str, value: object) -> str:
    if key in SECTIONS:
        return f"{key} must be a table of options, got {_show(value)}"
    close = difflib.get_close_matches(key, OPTIONS.keys(), n=1, cutoff=0.6)
    if not close:
        # "include_markup" alone should still find "notebook.include_markup".
        leaves = {opt.key.rsplit(".", 1)[-1]: opt.key for opt in SCHEMA}
        leaf = difflib.get_close_matches(key.rsplit(".", 1)[-1], leaves.keys(), n=1, cutoff=0.8)
        close = [leaves[leaf[0]]] if leaf else []
    hint = f" (did you mean {close[0]}?)" if close else ""
    return f"unknown option {key}{hint}"


def parse_config(raw: Mapping[str, Any] | None) -> ParseResult:
    """Validate ``raw`` (what ``setup()`` received). Never raises on bad user input."""
    raw = raw or {}
    problems: list[str] = []
    values: dict[str, Any] = {opt.key: opt.default for opt in SCHEMA if opt.consumer == "engine"}
    flat = _flatten(raw) if isinstance(raw, Mapping) else {}
    for key, value in flat.items():
        opt = OPTIONS.get(key)
        if opt is None:
            problems.append(_unknown_message(key, value))
            continue
        if opt.consumer == "lua":
            continue  # Lua checks it (from the same schema) and reports a bad value
        cleaned, problem = _check(opt, value)
        if problem:
            problems.append(f"{problem}; using the default {_show(opt.default)}")
        else:
            values[key] = cleaned
    _settle_endpoint(values, "", problems)
    routes_raw, fallback_raw = values.pop("routes"), values.pop("fallback")
    values["routes"] = {
        name: _server(values, table, f"routes.{name}", problems)
        for name, table in routes_raw.items()
    }
    values["fallback"] = tuple(
        _server(values, table, f"fallback[{i + 1}]", problems)
        for i, table in enumerate(fallback_raw)
    )
    return ParseResult(_build(values), problems)


ROUTE_KEYS = ("backend", "endpoint", "model", "format", "bearer_token", "api_key_env",
              "max_tokens", "temperature")
ROUTE_SECTIONS = ("ollama.", "openai.", "llamacpp.", "timeout.", "tls.")


def _server(base: Mapping[str, Any], table: Mapping[str, Any], where: str,
            problems: list[str]) -> Config:
    """The configuration of one route or fallback: ``base`` with the server keys of
    ``table`` over it. Problems are named ``routes.python.endpoint`` and the like."""
    values = dict(base)
    values["routes"], values["fallback"] = {}, ()
    if "backend" in table and table["backend"] != AUTO:
        # another kind of server: its own address and model by default
        if "endpoint" not in table:
            values["endpoint"] = ""
        if "model" not in table:
            values["model"] = ""
    for key, value in _flatten(table).items():
        opt = OPTIONS.get(key)
        if opt is None or not (key in ROUTE_KEYS or key.startswith(ROUTE_SECTIONS)):
            problems.append(f"{where}.{key}: not a server key (allowed: "
                            f"{', '.join(ROUTE_KEYS)} and the ollama, openai, llamacpp, "
                            "timeout, tls sections)")
            continue
        cleaned, problem = _check(opt, value)
        if problem:
            problems.append(f"{where}.{problem}; using the top-level value")
        else:
            values[key] = cleaned
    _settle_endpoint(values, f"{where}.", problems)
    _settle_auto(base, values, table, where, problems)
    return _build(values)


def _settle_auto(base: Mapping[str, Any], values: dict[str, Any], table: Mapping[str, Any],
                 where: str, problems: list[str]) -> None:
    """A route or fallback that says (or inherits) backend 'auto' follows the server
    found for the top level: it cannot have an address of its own, and there is
    nothing to follow when the top level names its server."""
    if values["backend"] != AUTO:
        return
    if base["backend"] != AUTO:
        problems.append(f"{where}.backend 'auto' is for the top level only (a route or "
                        f"fallback follows the server found there); using "
                        f"{_show(base['backend'])}")
        values["backend"] = base["backend"]
        _settle_endpoint(values, f"{where}.", problems)
    elif values["endpoint"] != base["endpoint"] and values["endpoint"]:
        problems.append(f"{where}: name the server kind (backend = 'ollama', 'llamacpp', "
                        f"'vllm' or 'openai') for a table with its own endpoint; it follows "
                        f"the server found for the top level meanwhile")
        values["endpoint"] = base["endpoint"]


def _settle_endpoint(values: dict[str, Any], where: str, problems: list[str]) -> None:
    """Normalise ``values["endpoint"]``; the openai backend must have one."""
    endpoint, problem = normalise_endpoint(values["endpoint"])
    if problem:
        problems.append(where + problem)
    values["endpoint"] = endpoint
    if values["backend"] == "openai" and not endpoint:
        problems.append(f"{where}endpoint is required with backend 'openai' "
                        "(the server's URL, for example http://127.0.0.1:8080)")


def _build(values: Mapping[str, Any]) -> Config:
    top: dict[str, Any] = {}
    sections: dict[str, dict[str, Any]] = {name: {} for name in _SECTIONS}
    for key, value in values.items():
        section, dot, leaf = key.partition(".")
        if dot:
            sections[section][leaf] = value
        else:
            top[key] = value
    for name, cls in _SECTIONS.items():
        top[name] = cls(**sections[name])
    return Config(**top)


def api_key(config: Config, environ: Mapping[str, str]) -> str:
    """The secret to send, from the named environment variable or the bearer token."""
    if config.api_key_env:
        value = environ.get(config.api_key_env, "")
        if value:
            return value
    return config.bearer_token

