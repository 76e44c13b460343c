# Set-up and the everyday commands. Every target builds the virtual environment first,
# so each works on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test test-fast lint bench bench-quick clean

$(BIN)/modelexport: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# torch first and pinned: an unpinned torch pulls several GB of CUDA packages.
	$(BIN)/pip install --quiet "torch==2.13.0"
	$(BIN)/pip install --quiet -e ".[torch,test]"
	touch $@

## demo: export the bundled BERT-tiny sample to tagged ONNX + hierarchical GraphML
demo: $(BIN)/modelexport
	mkdir -p out
	$(BIN)/modelexport export samples/bert-tiny out/bert.onnx --with-graphml --with-report

## test: the whole test suite (what CI runs)
test: $(BIN)/modelexport
	$(BIN)/python -m pytest -n 2 --durations=15

## lint: undefined names, unused imports, syntax errors (ruff)
lint: $(BIN)/modelexport
	$(BIN)/ruff check .

## test-fast: everything but the end-to-end model exports
test-fast: $(BIN)/modelexport
	$(BIN)/python -m pytest -n 2 -m "not slow"

## bench: speed and memory ratios against baselines (see bench/README.md)
bench: $(BIN)/modelexport
	$(BIN)/python -m bench

bench-quick: $(BIN)/modelexport
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) out build *.egg-info
