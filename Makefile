# The two commands of the README:
#   make demo   set up, release the course, autograde a synthetic cohort, print the grades
#   make test   set up and run the test suite; PYTEST_ARGS picks a part of it or adds options,
#               e.g. make test PYTEST_ARGS="tests/test_scale.py -x"
# and, for everyday work:
#   make test-fast  the tests not marked `slow` (pytest -m "not slow"): the grader in-process
#               with short limits, the reference, the course checks; no CLI, Chromium, Dask,
#               PostgreSQL or hostile corpus (tests/conftest.py says which tests are slow)
# Only `make test` runs scripts/system-deps.sh (PostgreSQL and Chromium, for the scale and
# browser tests; it installs them as root, and as another user only says what is missing):
# `make demo` needs neither.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := demo
PYTEST_ARGS ?=

.PHONY: setup demo test test-fast release clean

setup: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

release: setup
	$(PY) -m grader release

demo: release
	rm -rf $(DEMO)
	$(PY) -m cohort $(DEMO)/submissions --students 24 --seed 0
	$(PY) -m grader autograde --submissions $(DEMO)/submissions --out $(DEMO)/out

test: setup
	bash scripts/system-deps.sh
	$(PY) -m pytest $(PYTEST_ARGS)

test-fast: setup
	$(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

clean:
	rm -rf $(DEMO) .pytest_cache
