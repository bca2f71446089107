# The two commands README.md opens with: `make demo` and `make test`.
VENV ?= .venv
PYTHON ?= python3
BUF := .tools/node_modules/.bin/buf

.PHONY: install demo up test lint protos bench

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	@echo "Installing (the first build of llama-cpp-python takes about 8 minutes)..."
	$(VENV)/bin/python -m pip install --quiet -e '.[dev,local-model,bench]'
	touch $@

install: $(VENV)/.installed

$(BUF):
	npm install --prefix .tools --no-audit --no-fund --silent '@bufbuild/buf@^1.50'

demo: install
	$(VENV)/bin/byok demo

up: install
	$(VENV)/bin/byok up

lint: install $(BUF)
	$(BUF) lint
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest

protos: install
	$(VENV)/bin/byok protos

bench: install
	$(VENV)/bin/byok-bench
