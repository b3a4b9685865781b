# Quick start: `make demo` (creates .venv/ and scores the sample data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT ?= out/demo

.PHONY: demo test lint typecheck unit venv test-venv system-deps node-deps bench clean sample annotate

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# Stamp files make the installs idempotent; they are redone when pyproject.toml changes.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e .
	@touch $@

$(VENV)/.test-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test,napari]'
	@touch $@

venv: $(VENV)/.installed

test-venv: $(VENV)/.test-installed

demo: $(VENV)/.installed
	@bash scripts/demo.sh "$(BIN)" "$(OUT)"

system-deps:
	@bash scripts/install-system-deps.sh

lint: test-venv
	$(BIN)/ruff check src plugins tests bench
	$(BIN)/ruff format --check src plugins tests bench
	$(BIN)/lint-imports

typecheck: test-venv
	$(BIN)/mypy

unit: test-venv
	$(BIN)/python -m pytest

# dcmjs (OHIF's DICOM library) for the SR interoperability tests, from its lock file.
node-deps:
	npm ci --prefix tests/sr/dcmjs --no-audit --no-fund --silent

test: system-deps node-deps test-venv lint typecheck unit

# Rebuilds sample_dicom/demo_patient byte for byte (fixed seed, UIDs, dates); see sample_dicom/README.md.
# Other files there (sr/) are kept: they reference these deterministic UIDs.
sample: $(VENV)/.installed
	rm -rf out/demo_patient
	$(BIN)/recistry synth out/demo_patient --patients 1 --timepoints 3 --seed 1 --size 256
	rm -rf sample_dicom/demo_patient/SYN1-001
	mkdir -p sample_dicom/demo_patient
	cp -R out/demo_patient/. sample_dicom/demo_patient/

# Opens the sample patient in napari with the RECIST annotator docked (needs a display).
READER ?= $(USER)
annotate: test-venv
	$(BIN)/python -m recistry_napari sample_dicom/demo_patient/SYN1-001 --reader "$(READER)"

bench: venv
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf $(VENV) out build dist src/*.egg-info
