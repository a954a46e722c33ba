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

# The main job (scripts/demo.sh): push-wall demos (generated if missing) -> expert success per region and the data's
# symmetry-break map -> the oriented family and equi trained side by side on the same 100 demos, 6000 steps each
# -> both evaluated on the same 8 x 25 episodes (paired table, failure categories, runs/demo/eval/symmetry.png).
# Each run starts runs/demo afresh.
demo: $(STAMP)
	PY=$(PY) DEMO_DIR=$(DEMO_DIR) bash scripts/demo.sh

# Every benchmark table and figure again from the committed benchmarks/results (no training).
reports: $(STAMP)
	$(PY) studies/reports.py

clean:
	rm -rf $(VENV) .pytest_cache
