# `make test` (the whole suite, what CI runs), `make test-fast` (without the slow and robosuite tiers) and
# `make demo` (the main job). Each creates .venv on first use (see scripts/setup_venv.sh).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= datasets/data
EXTRAS ?= test,robosuite
# pytest-xdist workers: one per core (each test process uses one torch thread)
TEST_WORKERS ?= auto

.PHONY: test test-fast demo reports venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml requirements/cpu-constraints.txt scripts/setup_venv.sh
	PYTHON=$(PYTHON) VENV=$(VENV) EXTRAS=$(EXTRAS) bash scripts/setup_venv.sh
	touch $(STAMP)

test: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS)

test-fast: $(STAMP)
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not slow and not robosuite"

# The main job: push-pillar demos (DART, memoryless expert; generated if missing) -> expert success per region and
# the data symmetry-breaking map -> train the relaxed policy (MLP denoiser, 4000 steps, a progress line every 250)
# -> evaluate per region (table, failure categories, results.json, regions.csv, regions.png, relaxation.png in
# runs/demo/eval). Each run starts runs/demo afresh.
demo: $(STAMP)
	mkdir -p $(DEMO_DIR)
	test -e $(DEMO_DIR)/push_pillar_dart.zarr || $(PY) datasets/generate.py --env push-pillar --episodes 200 --seed 0 --workers 2 --out $(DEMO_DIR)/push_pillar_dart.zarr
	$(PY) datasets/expert_report.py --env push-pillar --episodes_per_region 10 --dataset $(DEMO_DIR)/push_pillar_dart.zarr --quiet
	rm -rf runs/demo
	$(PY) train.py --config configs/demo.yaml --data.dataset_path $(DEMO_DIR)/push_pillar_dart.zarr --out runs/demo
	$(PY) eval.py --checkpoint runs/demo/checkpoints/last.ckpt --episodes_per_region 25 --n_envs 2 --out runs/demo/eval

# Every benchmark table and figure again from the committed benchmarks/results (no training).
reports: $(STAMP)
	$(PY) studies/reports.py

clean:
	rm -rf $(VENV) .pytest_cache
