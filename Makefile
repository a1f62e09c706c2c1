# The two commands of the README:
#   make demo   set up, release the course, autograde a synthetic cohort, print the grades
#   make test   set up and run the test suite
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DEMO := demo

.PHONY: setup demo test release clean

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
	$(PY) -m pytest

clean:
	rm -rf $(DEMO) .pytest_cache
