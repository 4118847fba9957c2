# Everything a fresh clone needs is installed from here; nothing by hand.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# make demo ARGS="--http-port 18000 --hj212-port 18212 --duration 600"
ARGS ?=

demo: install
	$(BIN)/forewarn demo $(ARGS)

test: install
	$(BIN)/python -m pytest -q

lint: install
	$(BIN)/ruff check src tests
	$(BIN)/mypy

bench: install
	$(BIN)/forewarn bench ingest

clean:
	rm -rf $(VENV) forewarn-data build *.egg-info src/*.egg-info
