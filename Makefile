# yolokd: `make demo` and `make test` bootstrap .venv from nothing; re-runs skip what is installed.
# .venv is the lock (constraints.txt: torch 2.14.1, ultralytics 8.4.190, every other package pinned);
# `make test-oldest` tests the other end of the supported range from the built wheel, outside the tree.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.yolokd-installed
OLDEST := torch==2.11.0 torchvision==0.26.0 ultralytics==8.4.170
OLD_VENV := .venv-oldest

export YOLO_OFFLINE := 1
export YOLO_AUTOINSTALL := 0
export YOLO_CONFIG_DIR := $(CURDIR)/.yolo-config
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: venv demo test test-oldest dist lint clean

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt src/yolokd/__init__.py
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $@

demo: $(STAMP)
	$(BIN)/yolokd demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

dist: $(STAMP)
	rm -rf dist
	$(BIN)/python -m build -q --outdir dist . > /dev/null

test-oldest: dist
	test -x $(OLD_VENV)/bin/python || $(PYTHON) -m venv $(OLD_VENV)
	whl=$$(ls dist/yolokd-*.whl) && \
	  $(OLD_VENV)/bin/python -m pip install -q $(OLDEST) "$$whl[dev]" && \
	  $(OLD_VENV)/bin/python -m pip install -q --force-reinstall --no-deps "$$whl"
	tmp=$$(mktemp -d) && cp -r tests "$$tmp"/ && cd "$$tmp" && \
	  YOLO_CONFIG_DIR="$$tmp/.yolo-config" $(CURDIR)/$(OLD_VENV)/bin/python -m pytest -q -p no:cacheprovider tests

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) $(OLD_VENV) dist .yolo-config runs .pytest_cache
