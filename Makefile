# tensordl: build the book and run the tests. See README.md.
#   make book   -- the main job: full-size notebooks, HTML book in _build/html
#   make test   -- lint, unit tests, quick notebooks, claims, nbval, quick book, browser check
# Both create .venv from requirements.lock on first use.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python

# numba's cache lives in the build tree, so CI and `make book` reuse compiled kernels
export NUMBA_CACHE_DIR := $(CURDIR)/_build/numba_cache
export PYDEVD_DISABLE_FILE_VALIDATION := 1
export PYTHONHASHSEED := 0
# progress bars (plain tqdm) stay off in executed notebooks: no frozen bars or stderr in the book
export TQDM_DISABLE := 1

.PHONY: book test env lint unit execute-quick execute-full claims-quick claims-full nbval \
        book-quick book-full browser bench clean

# the book is built even when a full claim fails (its report shows FAIL), then the claims fail the target
book: book-full claims-full

test: lint unit execute-quick claims-quick nbval book-quick browser

env: $(VENV)/.installed

$(VENV)/.installed: requirements.lock pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name tensordl --display-name "Python 3 (tensordl)" >/dev/null
	touch $@

lint: env
	$(BIN)/ruff check src tests tools benchmarks book/_ext
	$(PY) tools/format_notebooks.py --check

unit: env
	$(PY) -m pytest --doctest-modules src tests --ignore=tests/claims

execute-quick: env
	$(PY) tools/execute.py --mode quick

execute-full: env
	$(PY) tools/execute.py --mode full

claims-quick: execute-quick
	$(PY) -m pytest tests/claims --executed _build/executed/quick --mode quick

claims-full: execute-full
	$(PY) -m pytest tests/claims --executed _build/executed/full --mode full

# one pytest per notebook, two at a time, each kernel with the threads it was executed with
nbval: execute-quick
	$(PY) tools/run_nbval.py _build/executed/quick

book-quick: execute-quick
	$(PY) tools/stage_book.py --mode quick

book-full: execute-full
	$(PY) tools/stage_book.py --mode full

# every page of the quick book in headless Chromium (skipped, with the reason, without chromium)
browser: book-quick
	$(PY) tools/check_pages.py _build/html-quick --json _build/browser-check.json

bench: env
	for b in benchmarks/bench_*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf _build
