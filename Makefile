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

# Generate push-pillar demos (if missing) -> summary -> expert success per region + data symmetry-breaking map.
# Later issues add: train the relaxed policy -> evaluate per region.
demo: $(STAMP)
	mkdir -p $(DEMO_DIR)
	test -e $(DEMO_DIR)/push_pillar.zarr || $(PY) datasets/generate.py --env push-pillar --episodes 200 --seed 0 --out $(DEMO_DIR)/push_pillar.zarr
	$(PY) datasets/describe.py $(DEMO_DIR)/push_pillar.zarr
	$(PY) datasets/expert_report.py --env push-pillar --episodes-per-region 25 --dataset $(DEMO_DIR)/push_pillar.zarr

clean:
	rm -rf $(VENV) .pytest_cache
