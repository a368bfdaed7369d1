# The two commands a new user needs: `make run` and `make test`. See README.md (reference: docs/).
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export KERAS_BACKEND := jax
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test install install-dev bootstrap bench-etl bench-inference bench-api bench-slate soak clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-base: requirements/base.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements/base.txt
	touch $@

$(VENV)/.installed-dev: requirements/dev.txt requirements/base.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements/dev.txt
	touch $@ $(VENV)/.installed-base

install: $(VENV)/.installed-base
install-dev: $(VENV)/.installed-dev

# A local .env with a fresh secret key; never committed. Edit it to use PostgreSQL/RabbitMQ.
.env: | $(BIN)/python
	@sed "s|^SECRET_KEY=.*|SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))')|" .env.example > .env
	@echo "wrote .env (a new SECRET_KEY; edit it to point at PostgreSQL and RabbitMQ)"

## make run: install, migrate, load the bundled seasons, train quick models (the full ones train on the
## batch worker once it is up), create the demo user, serve. nbaproject/start.py runs the Procfile under
## honcho with one configuration for every process (exported variables win over .env).
run: $(VENV)/.installed-base .env bootstrap
	$(BIN)/python -m nbaproject.start

bootstrap: $(VENV)/.installed-base .env
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py collectstatic --noinput -v0
	$(BIN)/python manage.py bootstrap

## make test: ruff (lint and format check) and the import contracts (pyproject.toml), the full suite on the
## local services, then the smoke subset on the embedded default.
test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest
	TEST_EMBEDDED=1 $(BIN)/pytest -m smoke

bench-etl: $(VENV)/.installed-dev
	$(BIN)/python bench/etl_load.py

bench-inference: $(VENV)/.installed-dev
	$(BIN)/python bench/inference.py

bench-api: $(VENV)/.installed-dev
	$(BIN)/python bench/api_load.py

bench-slate: $(VENV)/.installed-dev
	$(BIN)/python bench/slate.py

soak: $(VENV)/.installed-dev
	$(BIN)/python bench/soak.py

clean:
	rm -rf var/broker var/embedded-test var/test_db.sqlite3*
