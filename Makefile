# Two entry points, both self-contained on a fresh machine:
#   make demo   set up .venv and plan the bundled sample data into out/
#   make test   set up .venv (and Chromium for the browser test) and run the whole suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[app,dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/gridplan demo --out out

test: $(STAMP)
	bash .ci/install-browser
	$(PY) -m pytest -n 2 --dist loadfile

lint: $(STAMP)
	$(VENV)/bin/ruff check gridplan app.py tests benchmarks
	$(VENV)/bin/ruff format --check gridplan app.py tests benchmarks
	$(VENV)/bin/mypy gridplan

bench: $(STAMP)
	$(PY) -m pip install --quiet -e ".[dev,bench]"
	$(PY) benchmarks/run.py

clean:
	rm -rf $(VENV) out .pytest_cache
