# Mitsumori: two commands. `make run` serves the API (and web UI) with demo data; `make test` runs the suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MODEL := data/models/default.joblib
RANKER := data/models/ranker.joblib
HOST ?= 127.0.0.1
PORT ?= 8000
MQTT_PORT ?= 1884

.PHONY: run test install kernels model lint bench clean web browser

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# numba caches a compiled kernel beside its source and checks only that file for changes, not
# the helpers it inlines from other modules: when any kernel source changes, every cached kernel
# is dropped (keyed on a hash of the sources; numba recompiles on first use, ~30 s).
KERNEL_SOURCES := $(shell grep -rl --include='*.py' 'njit' quote matching platform_api 2>/dev/null | sort)
KERNEL_KEY := $(shell cat $(KERNEL_SOURCES) /dev/null | sha256sum | cut -c1-16)
NUMBA_STAMP := $(VENV)/.numba-$(KERNEL_KEY)
$(NUMBA_STAMP): $(STAMP)
	find quote matching platform_api -path '*/__pycache__/*' \( -name '*.nbi' -o -name '*.nbc' \) -delete
	rm -f $(VENV)/.numba-*
	touch $@

kernels: $(NUMBA_STAMP)

# Rebuilt when the code that defines the model or its training data changes (a model saved by
# an older format is refused at load, so `make run` must not keep a stale one).
MODEL_SOURCES := quote/training.py quote/artifact.py quote/persistence.py quote/estimators.py \
    quote/priors.py quote/conformal.py quote/featurize.py quote/costing.py quote/corpus.py
$(MODEL): $(STAMP) $(MODEL_SOURCES) | $(NUMBA_STAMP)
	$(BIN)/mitsumori model build-default --out $(MODEL)

# The default supplier ranker, trained on the seeded marketplace simulator (about 5 s); rebuilt
# when the code that defines it or its training market changes.
RANKER_SOURCES := $(wildcard matching/ranking/*.py) matching/ranker_training.py matching/simulate.py \
    matching/profiles.py matching/capacity.py
$(RANKER): $(STAMP) $(RANKER_SOURCES) | $(NUMBA_STAMP)
	$(BIN)/mitsumori ranker build --out $(RANKER)

model: $(MODEL) $(RANKER)

# The web app's browser files (three.js, fonts) from the npm registry, vendored under
# platform_api/web/static/vendor (git-ignored); no CDN at run time.
WEB := platform_api/web
WEB_STAMP := $(WEB)/static/vendor/.built
$(WEB_STAMP): $(WEB)/frontend/package.json $(WEB)/frontend/package-lock.json $(WEB)/frontend/build.mjs
	cd $(WEB)/frontend && npm ci --no-audit --no-fund --loglevel=error
	node $(WEB)/frontend/build.mjs

web: $(WEB_STAMP)

# Debian's Chromium for the browser tests (Playwright drives it; it never downloads a browser).
browser:
	command -v chromium >/dev/null || (apt-get update && apt-get install -y chromium)

# MITSUMORI_DEMO_PUBLISHER=1: the demo machines report live over MQTT (a publisher thread in
# the server, which stops with it). MITSUMORI_MQTT_MANAGED_PORT: the server runs its own
# Mosquitto on that port with a user per shop and the ACL (docs/mqtt.md); without mosquitto
# installed it subscribes to the broker at 127.0.0.1:1883 as before.
run: $(STAMP) $(NUMBA_STAMP) $(MODEL) $(RANKER) web
	$(BIN)/mitsumori db upgrade
	$(BIN)/mitsumori demo seed --if-empty
	MITSUMORI_DEMO_PUBLISHER=1 MITSUMORI_MQTT_MANAGED_PORT=$(MQTT_PORT) \
		$(BIN)/mitsumori serve --host $(HOST) --port $(PORT)

test: $(STAMP) $(NUMBA_STAMP) $(MODEL) $(RANKER) web browser
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP) $(MODEL)
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/accuracy.py
	$(BIN)/python bench/ingest.py

clean:
	rm -rf $(VENV) var $(MODEL) $(RANKER) $(WEB)/static/vendor $(WEB)/frontend/node_modules
