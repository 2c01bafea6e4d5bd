# astrolab: two commands set up everything on a fresh machine.
#   make lab   -> creates .venv if missing, installs, opens JupyterLab on notebooks/ (127.0.0.1, token)
#   make test  -> creates .venv if missing, installs, installs Chromium for the browser tests, runs every test
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.astrolab-installed

.PHONY: lab test env benchmark reproduce clean

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first, pinned: no dependency may pull a second torch (constraints.txt pins it too)
	$(BIN)/python -m pip install --quiet -c constraints.txt torch==2.13.0
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[test]"
	@touch $(STAMP)

lab: $(STAMP)
	$(BIN)/astrolab lab

test: $(STAMP)
	bash scripts/install_browser.sh
	ASTROLAB_FAST=1 $(BIN)/python -m pytest

benchmark: $(STAMP)
	ASTROLAB_FAST=1 $(BIN)/python benchmarks/run_all.py

reproduce: $(STAMP)
	$(BIN)/astrolab reproduce --fast --out reproduce

clean:
	rm -rf $(VENV) artifacts reproduce .pytest_cache
