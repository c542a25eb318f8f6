# safemap: the two commands of the README are `make demo` and `make test`.
# Both create .venv, install the package and the web assets, then do their job.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
ASSETS := webmap/assets/node_modules/.installed-stamp
WORKSPACE ?= workspace

.PHONY: demo test lint typecheck pytest bench bench-quick bench-national bench-soak clean help

help:
	@echo "make demo   - set up, build the demo workspace, serve the map at http://127.0.0.1:5000"
	@echo "make test   - set up, run ruff, mypy and pytest"
	@echo "make bench  - run the benchmarks (figures as ratios against baselines measured in the same run)"
	@echo "make bench-national - 10^8 points on 10,600 synthetic communes, Dask LocalCluster vs in-process"
	@echo "make bench-soak     - the web load test held for 10 minutes (errors, memory flatness)"

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "safemap needs Python 3.11 or newer: set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

# Leaflet and its plugins come from the npm registry at set-up (never copied into git, never a CDN).
$(ASSETS): webmap/assets/package.json webmap/assets/package-lock.json
	@command -v npm >/dev/null || { echo "npm is needed to install the map's Leaflet assets (apt-get install npm)"; exit 1; }
	cd webmap/assets && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

demo: $(STAMP) $(ASSETS)
	$(BIN)/safemap demo --workspace $(WORKSPACE)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(ASSETS)
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(STAMP) $(ASSETS)
	$(BIN)/python benchmarks/run_all.py

bench-quick: $(STAMP) $(ASSETS)
	$(BIN)/python benchmarks/run_all.py --quick

bench-national: $(STAMP)
	$(BIN)/python benchmarks/run_all.py national

bench-soak: $(STAMP) $(ASSETS)
	$(BIN)/python benchmarks/run_all.py soak

clean:
	rm -rf $(VENV) webmap/assets/node_modules .pytest_cache .mypy_cache .ruff_cache
