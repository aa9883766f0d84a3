# The two set-up commands of the README: `make demo` and `make test`. Both build what they need.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench clean-venv doccano-venv

# The local Doccano 1.8.4 server lives in its own venv (it needs pydantic 2, our client pydantic 1);
# the annotate tests start a real server from it. Built by cmner-build itself, so the pins live in one place.
DOCCANO_VENV := .venv-doccano

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# A CPU build of torch first (from the local disk here); the project keeps a range.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: $(BIN)/.installed
	$(BIN)/cmner-build demo

$(DOCCANO_VENV)/.installed: | $(BIN)/.installed
	$(BIN)/cmner-build doccano install --venv $(DOCCANO_VENV)

doccano-venv: $(DOCCANO_VENV)/.installed

test: $(BIN)/.installed $(DOCCANO_VENV)/.installed
	$(BIN)/python -m pytest -q

bench: $(BIN)/.installed $(DOCCANO_VENV)/.installed
	for script in benchmarks/bench_*.py; do $(BIN)/python $$script || exit 1; done

clean-venv:
	rm -rf $(VENV) $(DOCCANO_VENV)
