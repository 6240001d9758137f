# Softmax Lab: `make lab` serves the notebooks, `make test` runs every test. Both set up .venv first.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JUPYTER := $(VENV)/bin/jupyter
RUNTIME_STAMP := $(VENV)/.runtime-installed
TEST_STAMP    := $(VENV)/.test-installed
# uv installs the requirements when the bootstrap step could put it in .venv (USE_UV=0: pip only).
USE_UV ?= 1
UV_VERSION := 0.13.8
UV := $(VENV)/bin/uv
# `$(call INSTALL,ARGS)`: uv when .venv has it, else pip (checked when the recipe runs, not parsed).
# uv compiles the bytecode as pip does: without it every process (each kernel, each sandboxed
# grading kernel, which cannot write it) compiles TensorFlow's modules again, unless
# PYTHONDONTWRITEBYTECODE is unset and the folder is writable; uv skips files already compiled.
INSTALL = if [ -x $(UV) ]; then $(UV) pip install --quiet --compile-bytecode --python $(PY) $(1); \
          else $(PY) -m pip install --quiet $(1); fi
# Test files run on two workers, each file (each browser front end of it) on one worker, by
# conftest.py's scheduler. PYTEST_WORKERS=0 runs everything in one process.
PYTEST_WORKERS ?= 2
PYTEST_PARALLEL := $(if $(filter 0,$(PYTEST_WORKERS)),,-n $(PYTEST_WORKERS))
FIRST_NOTEBOOK := $(firstword $(sort $(wildcard notebooks/01_*.ipynb)))
NBVAL_ARGS := --nbval --nbval-current-env --nbval-sanitize-with tests/nbval_sanitize.cfg
NB ?= notebooks/*.ipynb
LAB_ARGS ?=
# Jupyter refuses to start as root unless told to (containers, CI machines).
ROOT_ARGS := $(if $(filter 0,$(shell id -u)),--allow-root)

.PHONY: help setup setup-test lab test test-unit test-notebooks test-notebook notebooks binder clean

help:
	@echo "make lab             set up .venv and serve JupyterLab on $(FIRST_NOTEBOOK)"
	@echo "make test            set up .venv with test tools and run every test (unit, notebooks, browser, classroom)"
	@echo "make test-notebook NB=notebooks/01_softmax_basics.ipynb   nbval on one notebook"
	@echo "make notebooks [NB=...]   re-execute notebooks in place in fresh kernels (commit the result)"
	@echo "make binder          copy requirements.txt into binder/ (kept identical; a test checks)"

$(PY):
	@$(PYTHON) -c 'import sys; assert (3, 10) <= sys.version_info[:2] <= (3, 13), "Softmax Lab needs Python 3.10 to 3.13 (TensorFlow 2.21); set PYTHON=python3.11"'
	$(PYTHON) -m venv $(VENV)
	@if [ "$(USE_UV)" = 1 ] && $(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION); \
	then echo "uv $(UV_VERSION) installs the requirements"; \
	else echo "uv not used: pip installs the requirements"; \
	     $(PY) -m pip install --quiet --upgrade pip setuptools; fi

# Re-installs only when a requirements file or pyproject.toml changed, so a second `make lab` is fast.
$(RUNTIME_STAMP): requirements.txt pyproject.toml | $(PY)
	@$(call INSTALL,-r requirements.txt)
	@if [ -x $(UV) ]; then $(UV) pip install --quiet --python $(PY) --no-deps -e .; \
	else $(PY) -m pip install --quiet --no-deps --no-build-isolation -e .; fi
	@touch $@

$(TEST_STAMP): requirements-test.txt $(RUNTIME_STAMP)
	@$(call INSTALL,-r requirements.txt -r requirements-test.txt)
	@touch $@

setup: $(RUNTIME_STAMP)
setup-test: $(TEST_STAMP)

lab: $(RUNTIME_STAMP)
	@echo "Serving JupyterLab on $(FIRST_NOTEBOOK); open the http://127.0.0.1:... URL printed below (Ctrl-C to stop)."
	$(JUPYTER) lab --ServerApp.root_dir=. $(ROOT_ARGS) $(LAB_ARGS) $(FIRST_NOTEBOOK)

# Unit, property, classroom and browser tests and nbval over every notebook, in one pytest run
# on two workers (each notebook and each test file on one worker, see conftest.py); the slowest
# tests are listed at the end, for whoever balances the workers next.
test: $(TEST_STAMP)
	@status=0; \
	$(PY) -m pytest $(PYTEST_PARALLEL) --durations=25 tests $(NBVAL_ARGS) notebooks || status=$$?; \
	$(PY) -m pytest --doctest-modules lab_utils || status=$$?; \
	$(VENV)/bin/ruff check lab_utils tests benchmarks classroom || status=$$?; \
	$(VENV)/bin/ruff format --check lab_utils tests benchmarks classroom || status=$$?; \
	exit $$status

test-unit: $(TEST_STAMP)
	$(PY) -m pytest $(PYTEST_PARALLEL) tests

test-notebooks: $(TEST_STAMP)
	$(PY) -m pytest $(NBVAL_ARGS) notebooks

test-notebook: $(TEST_STAMP)
	$(PY) -m pytest $(NBVAL_ARGS) $(NB)

# The only way notebook outputs are produced: a fresh kernel per notebook, top to bottom, in place.
notebooks: $(RUNTIME_STAMP)
	$(PY) -m lab_utils.run_notebooks $(NB)

binder:
	cp requirements.txt binder/requirements.txt

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis

# JupyterHub's proxy for tests/hub, from the npm registry (5.1.0: the last release that runs on
# Debian's Node 18 as well as 20). Without npm the hub tests skip (and fail under CI=true).
CHP_VERSION := 5.1.0
HUB_PROXY   := .hub-node/node_modules/.bin/configurable-http-proxy
.PHONY: hub-proxy
hub-proxy:
	@if ! command -v npm >/dev/null 2>&1; then echo "npm not found: the hub tests will skip"; \
	elif [ "$$($(HUB_PROXY) --version 2>/dev/null)" != "$(CHP_VERSION)" ]; then \
	  npm install --no-save --no-fund --no-audit --prefix .hub-node configurable-http-proxy@$(CHP_VERSION); fi
setup-test test test-unit: hub-proxy
