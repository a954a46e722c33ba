# Two commands: `make test` and `make demo`. Both create .venv on first use (see scripts/setup_venv.sh).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= datasets/data

.PHONY: test demo venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements/cpu-constraints.txt scripts/setup_venv.sh
	PYTHON=$(PYTHON) VENV=$(VENV) bash scripts/setup_venv.sh
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q

# For now: a synthetic robomimic-layout file -> zarr replay buffer -> summary. Later: generate -> train -> evaluate.
demo: $(STAMP)
	mkdir -p $(DEMO_DIR)
	$(PY) datasets/make_synthetic.py --format robomimic --episodes 50 --image-size 88 --out $(DEMO_DIR)/demo_robomimic.hdf5 --overwrite
	$(PY) datasets/convert_robomimic.py --hdf5 $(DEMO_DIR)/demo_robomimic.hdf5 --out $(DEMO_DIR)/demo.zarr --filter-key train --overwrite
	$(PY) datasets/describe.py $(DEMO_DIR)/demo.zarr

clean:
	rm -rf $(VENV) .pytest_cache
