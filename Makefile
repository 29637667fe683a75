# Two commands do all set-up: `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

# Prefect runs offline and quiet, against a local server only (see flows/README or DESIGN).
export PREFECT_HOME := $(CURDIR)/.prefect
export PREFECT_API_URL := http://127.0.0.1:4200/api
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export DO_NOT_TRACK := 1
export PREFECT_SERVER_EPHEMERAL_ENABLED := false
export PREFECT_LOGGING_EXTRA_LOGGERS := ufmclean

.PHONY: venv demo lint test test-fast clean-runs

venv: $(STAMP)

# torch is pinned first so pip takes the release that ships on the machine's disk instead of
# resolving a newer CUDA build; the stamp makes re-runs instant until pyproject.toml changes.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps "rapidocr-onnxruntime==1.4.4"
	$(PY) sample_data/make_sample_data.py --pydicom-files-only
	touch $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

# Local Prefect server (127.0.0.1) + served sanitize/local and verify/local in the foreground; Ctrl-C stops both.
.PHONY: serve
serve: $(STAMP)
	bash scripts/serve.sh

# ruff (pyflakes, pycodestyle, bugbear, pyupgrade ...) and mypy, configured in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m mypy

test: lint
	$(PY) -m pytest -q

test-fast: $(STAMP)
	$(PY) -m pytest -q -m "not slow"

clean-runs:
	rm -rf runs
