# Everything a person would type twice. `make help` lists the targets.
SHELL := /bin/bash
PYTHON ?= python3
# uv from PATH, else the copy `make uv` installs with pip (reachable as `python3 -m uv`).
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
# The lint tools import the settings; give them a throwaway development configuration.
LINT_ENV := DEBUG=true SECRET_KEY=lint-only-not-secret DATABASE_URL=sqlite:///$(CURDIR)/var/lint.sqlite3

.PHONY: help run test test-fast lint audit format bench install uv simulator clean

help:
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

uv:
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 || \
		$(PYTHON) -m pip install --quiet uv || $(PYTHON) -m pip install --quiet --user uv

install: uv ## Install the locked packages into .venv
	@$(UV) sync --frozen --quiet

run: install ## Start Error Desk on the embedded default (SQLite, filesystem broker, Celigo simulator)
	@$(UV) run --frozen python -m dashboard.embedded

# The suite runs on PostgreSQL when one answers (else SQLite); the sync, the outbox and the hostile-input tests
# run once more on the embedded default's SQLite, whose locking, SQL and integer limits differ.
EMBEDDED_TESTS := tests/dashboard/sync tests/dashboard/outbox tests/dashboard/actions tests/dashboard/test_commands.py \
	tests/dashboard/views/test_hostile_input.py tests/dashboard/views/test_no_server_errors.py

test: install ## Run the whole test suite
	$(UV) run --frozen pytest -n 2
	DATABASE_URL=sqlite:///$(CURDIR)/var/test/embedded.sqlite3 $(UV) run --frozen pytest -n 2 $(EMBEDDED_TESTS)

test-fast: install ## The suite without browser and slow tests
	$(UV) run --frozen pytest -n 2 -m "not e2e and not slow"

lint: install ## ruff, mypy and the migrations check
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(LINT_ENV) $(UV) run --frozen mypy .
	$(LINT_ENV) $(UV) run --frozen python manage.py makemigrations --check --dry-run

audit: install ## Check the locked dependencies against the public advisory database (pip-audit)
	@$(PYTHON) .ci/audit_dependencies.py

format: install ## Apply ruff's fixes and formatting
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

bench: install ## Run the benchmarks (each prints JSON; see bench/README.md)
	@for script in bench/[a-z]*.py; do echo "== $$script"; $(UV) run --frozen python $$script || exit 1; done

simulator: install ## Serve the demo Celigo simulator on port 8765
	$(UV) run --frozen python -m celigo_api.simulator --seed demo --port 8765

clean: ## Remove the local database, queues and collected static files
	rm -rf var/
