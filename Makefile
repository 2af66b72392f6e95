# Mitsumori: two commands. `make run` serves the API (and web UI) with demo data; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := data/models/default.joblib
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test install model lint bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

$(MODEL): $(STAMP)
	$(BIN)/mitsumori model build-default --out $(MODEL)

model: $(MODEL)

run: $(STAMP) $(MODEL)
	$(BIN)/mitsumori db upgrade
	$(BIN)/mitsumori demo seed --if-empty
	$(BIN)/mitsumori serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(MODEL)
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) $(MODEL)
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/accuracy.py

clean:
	rm -rf $(VENV) var $(MODEL)
