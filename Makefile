# yolokd: `make demo` and `make test` bootstrap .venv from nothing; re-runs skip what is installed.
# .venv is the lock (constraints.txt: torch 2.14.1, ultralytics 8.4.190, every other package pinned);
# `make test-oldest` tests the other end of the supported range from the built wheel, outside the tree.
# Installs go through uv (PyPI's `uv`, kept in .venv-tools), about 3x faster than pip here (measured by
# benchmarks/install.sh). uv reads none of pip's configuration, so tools/pip2uv.py passes on this
# machine's pip settings (local wheels, extra indexes, constraints). Where uv is missing or fails, pip installs.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.yolokd-installed
OLDEST := torch==2.11.0 torchvision==0.26.0 ultralytics==8.4.170
OLD_VENV := .venv-oldest
UV := .venv-tools/bin/uv
UV_VERSION := 0.13.9

# $(call install,VENV,ARGS): install ARGS into VENV with uv, or with pip where uv is missing or fails
install = { test -x $(UV) && flags=$$($(PYTHON) tools/pip2uv.py) && \
  $(UV) pip install -q --python $(1)/bin/python $$flags $(2); } || \
  { echo "yolokd: installing with pip"; $(1)/bin/python -m pip install -q $(2); }

export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := 0
export YOLO_CONFIG_DIR := $(CURDIR)/.yolo-config
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv demo test test-oldest dist lint clean

venv: $(STAMP)

$(UV):
	$(PYTHON) -m venv .venv-tools && .venv-tools/bin/python -m pip install -q uv==$(UV_VERSION) || rm -rf .venv-tools

$(STAMP): pyproject.toml constraints.txt src/yolokd/__init__.py | $(UV)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(call install,$(VENV),-c constraints.txt -e '.[dev]')
	touch $@

VERDICT := benchmarks/results/decide_cpu/confirm/verdict.md

# The demo's one seed shows the workflow (its first and last lines: what one seed can show at its setting);
# the committed decisive benchmark says which method wins.
demo: $(STAMP)
	$(BIN)/yolokd demo
	@echo; echo "The committed decisive benchmark (150-epoch students, 3 folds x 6 fresh seeds; benchmarks/decide.sh,"
	@echo "read in benchmarks/results/README.md):"
	@sed 's/^/  /' $(VERDICT)

test: $(STAMP)
	$(BIN)/python -m pytest -q

# The wheel and sdist need only uv (or, without it, the lock's `build`), not the 6 GB .venv.
dist: | $(UV)
	rm -rf dist
	{ test -x $(UV) && flags=$$($(PYTHON) tools/pip2uv.py build) && \
	  $(UV) build -q --out-dir dist $$flags .; } || { $(MAKE) venv && $(BIN)/python -m build -q --outdir dist . > /dev/null; }

# The user's case: torch and ultralytics already installed, then `pip install yolokd` (pip, as they would)
# must keep them. The suite then runs from a copy outside the tree, so it tests the wheel's contents.
test-oldest: dist | $(UV)
	test -x $(OLD_VENV)/bin/python || $(PYTHON) -m venv $(OLD_VENV)
	$(call install,$(OLD_VENV),$(OLDEST))
	whl=$$(ls dist/yolokd-*.whl) && \
	  $(OLD_VENV)/bin/python -m pip install -q "$$whl[dev]" && \
	  $(OLD_VENV)/bin/python -m pip install -q --force-reinstall --no-deps "$$whl"
	$(OLD_VENV)/bin/python -c "import torch, ultralytics; v = torch.__version__, ultralytics.__version__; \
	  assert v[0].startswith('2.11.0') and v[1] == '8.4.170', f'pip install yolokd replaced {v}'"
	tmp=$$(mktemp -d) && cp -r tests "$$tmp"/ && cd "$$tmp" && \
	  YOLO_CONFIG_DIR="$$tmp/.yolo-config" $(CURDIR)/$(OLD_VENV)/bin/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks tools
	$(BIN)/ruff format --check src tests benchmarks tools

clean:
	rm -rf $(VENV) $(OLD_VENV) .venv-tools dist .yolo-config runs/yolokd-demo .pytest_cache
