# Two commands: `make test` and `make demo`. Both create .venv on first use (see scripts/setup_venv.sh).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DATA ?= datasets/data/demo_synthetic.zarr

.PHONY: test demo venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements/cpu-constraints.txt scripts/setup_venv.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup_venv.sh
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

demo: $(STAMP)
	$(PY) -m equidiff_relaxed.demo --out $(DEMO_DATA)

clean:
	rm -rf $(VENV) .pytest_cache
