# The two commands of the README: `make run` and `make test`.
# Both create a local virtualenv (.venv) and install what the project needs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint chat demo bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

# A fresh checkout gets a .env with a new encryption key, so secrets can be stored at once.
# Only its owner may read it: it holds the key to every stored password.
.env: | $(STAMP)
	@umask 077 && echo "ENCRYPTION_KEYS=$$($(BIN)/autogram keygen)" > .env
	@echo "Wrote .env with a new ENCRYPTION_KEYS (keep it; see .env.example for the rest)."

run: $(STAMP) .env
	@chmod 600 .env
	$(BIN)/autogram migrate
	$(BIN)/autogram run

chat: $(STAMP) .env
	$(BIN)/autogram migrate
	$(BIN)/autogram chat

# A throw-away community on a simulated Instagram; then `.venv/bin/autogram chat --demo --as minji`.
demo: $(STAMP) .env
	@$(BIN)/autogram chat --demo

# TEST_DATABASE_URL picks the database (default: a fresh SQLite file per test run).
# scripts/debian-packages adds what some tests need from the system (a browser, fonts,
# an IMAP server) when it can; tests without theirs are skipped and say why.
test: $(STAMP)
	@scripts/debian-packages
	$(BIN)/pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

# Every benchmark, then docs/benchmarks.md: over an hour (BENCH_ARGS=--quick for a short
# look; --telegram-postgres adds the Telegram benchmark on PostgreSQL). Not part of CI.
bench: $(STAMP)
	$(BIN)/python benchmarks/report.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV)
