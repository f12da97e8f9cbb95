"""Which class serves which ``backend`` value. A new server: one file, one line here."""

from __future__ import annotations

import os
from collections.abc import Mapping

import httpx

from llama_coder.backends.base import Backend, BackendSettings
from llama_coder.backends.llamacpp import LlamaCppBackend
from llama_coder.backends.ollama import OllamaBackend
from llama_coder.backends.openai import OpenAIBackend
from llama_coder.backends.vllm import VllmBackend
from llama_coder.core.config import AUTO, Config, api_key
from llama_coder.core.errors import ConfigError

BACKENDS: dict[str, type[Backend]] = {
    "ollama": OllamaBackend,
    "openai": OpenAIBackend,
    "vllm": VllmBackend,
    "llamacpp": LlamaCppBackend,
}


def settings_from_config(
    config: Config, environ: Mapping[str, str] | None = None
) -> BackendSettings:
    return BackendSettings(
        endpoint=config.resolved_endpoint,
        model=config.model,
        api_key=api_key(config, os.environ if environ is None else environ),
        connect_timeout=config.timeout.connect / 1000,
        first_chunk_timeout=config.timeout.first_chunk / 1000,
        total_timeout=config.timeout.total / 1000,
        pull_idle_timeout=config.timeout.pull_idle / 1000,
        keep_alive=config.ollama.keep_alive,
        send_suffix=config.openai.send_suffix,
        max_stop=config.openai.max_stop,
        t_max_predict_ms=config.llamacpp.t_max_predict_ms,
        ca_bundle=config.tls.ca_bundle,
    )


def create_backend(
    config: Config,
    environ: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Backend:
    """The backend the configuration names, with one HTTP client of its own."""
    if config.backend == AUTO:
        raise ConfigError("backend 'auto' is resolved by detect.AutoSetup before engines "
                          "are made (internal error)")
    return BACKENDS[config.backend](settings_from_config(config, environ), transport)
