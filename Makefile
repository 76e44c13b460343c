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
	# editable: src/ goes on sys.path through a static .pth (src/modelexport and the
	# links inside it reach the top-level folders), so pyright and jedi resolve every
	# modelexport.* import, and new modules need no reinstall
	# setuptools notes on every editable install of a package-dir layout that folders
	# named like the package may shadow it on import; here they are the package itself.
	# Only that note is silenced (its message starts "Editable installation.").
	PYTHONWARNINGS="ignore:Editable installation." $(BIN)/pip install --quiet -e ".[torch,test]"
	touch $@

## demo: the whole product on the bundled BERT-tiny sample: tagged ONNX + hierarchical
## GraphML, a picture of it, and the model archived and restored byte for byte
demo: $(BIN)/modelexport
	mkdir -p out
	$(BIN)/modelexport export samples/bert-tiny out/bert.onnx --with-graphml --with-report
	$(BIN)/modelexport render out/bert_hierarchical_graph.graphml out/bert.svg
	$(BIN)/modelexport render out/bert_hierarchical_graph.graphml out/bert_depth1.png --depth 1
	$(BIN)/modelexport archive add out/models.lbdb out/bert.onnx --name bert --replace
	$(BIN)/modelexport archive list out/models.lbdb
	$(BIN)/modelexport archive query out/models.lbdb \
	    "MATCH (o:Op) WHERE o.model = 'bert' RETURN o.op_type AS op, count(*) AS n ORDER BY n DESC LIMIT 5"
	$(BIN)/modelexport archive restore out/models.lbdb bert out/bert_restored.onnx
	cmp out/bert.onnx out/bert_restored.onnx && echo "out/bert_restored.onnx: the same bytes as out/bert.onnx"
	@echo
	@echo "Now look at the results in out/:"
	@echo "  bert_hierarchical_graph.graphml  open in yEd (yworks.com/yed, free): laid out, module groups open and close"
	@echo "  bert.svg, bert_depth1.png        open in a web browser (the PNG in any image viewer)"
	@echo "  bert_export_report.txt           the export report; bert_metadata.json: module tree and node tags"
	@echo "  $(BIN)/modelexport analyze out/bert.onnx  prints the module tree with op and parameter counts"

## test: the whole test suite (what CI runs). Two workers take a test file at a time,
## those with the longest tests first, in the order tests/conftest.py gives them (xdist
## would put files with many tests first): a file's fixtures are then built once, and
## neither worker is left with a long tail. The README's runs go one test at a time
## (tests/conftest.py's ONE_TEST_AT_A_TIME), so both workers share them.
TEST_WORKERS = -n 2 --dist loadfile --no-loadscope-reorder
test: $(BIN)/modelexport
	$(BIN)/python -m pytest $(TEST_WORKERS) --durations=15

## lint: ruff (correctness, line length, import order, bugbear, pyupgrade)
lint: $(BIN)/modelexport
	$(BIN)/ruff check .

## test-fast: everything but the end-to-end model exports
test-fast: $(BIN)/modelexport
	$(BIN)/python -m pytest $(TEST_WORKERS) -m "not slow"

## bench: speed and memory ratios against baselines (see bench/README.md)
bench: $(BIN)/modelexport
	$(BIN)/python -m bench

bench-quick: $(BIN)/modelexport
	$(BIN)/python -m bench --quick

clean:
	rm -rf $(VENV) out build *.egg-info src/*.egg-info
