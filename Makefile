# Shortcuts; the README's two commands work without make.
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: help install demo test lint migrations migrate bench locales lock

help:  ## list the targets
	@grep -E '^[a-z]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

install:  ## create .venv and install the project with its dev tools and the embedded stores
	python3.11 -m venv $(VENV) && $(VENV)/bin/pip install -q -e '.[dev,embedded]'

demo: install  ## run the whole product locally (embedded PostgreSQL/Redis, no token)
	$(PY) -m bot demo

test: install  ## lint, type-check and run the test suite
	$(VENV)/bin/ruff check . && $(VENV)/bin/mypy . && $(VENV)/bin/pytest

lint:  ## ruff and mypy only
	$(VENV)/bin/ruff check . && $(VENV)/bin/mypy .

migrations:  ## create a migration from model changes: make migrations name=add_x
	$(VENV)/bin/tortoise -c bot.migration_config.TORTOISE_ORM makemigrations -n $(name)

migrate:  ## apply migrations and seed reference data
	$(PY) -m bot migrate

lock:  ## pin the production dependencies (requirements.lock, used by the Dockerfile)
	$(VENV)/bin/pip install -q pip-tools && $(VENV)/bin/pip-compile --quiet --generate-hashes \
	    --strip-extras --no-emit-index-url --no-emit-find-links \
	    --output-file requirements.lock pyproject.toml

bench:  ## run the benchmarks
	$(PY) -m bench

locales:  ## check that every catalog has the same keys
	$(VENV)/bin/pytest tests/test_locales.py -q
