# repro: `make help` lists the targets. Every target installs what it needs first (pip install -e '.[dev]').
PYTHON ?= python3
PIP_FLAGS ?= -q
SCALE ?= tiny
STAMP := .install.stamp

.PHONY: help install demo test tiny all data full-cpu plots check report bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-9s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)  ## install repro and its test dependencies into the current Python

demo: $(STAMP)  ## reproduce LaProp's divergence figure at full scale on the CPU and say where it is
	repro run paper=laprop fig=1 scale=full
	@echo "CSV:  results/laprop/fig1.csv"; echo "plot: results/laprop/fig1.png"

TEST_WORKERS ?= auto
test: $(STAMP)  ## run the test suite (what CI runs), one pytest-xdist worker per core, idle workers steal queued tests (TEST_WORKERS=0: one process)
	$(PYTHON) -m pytest -q -n $(TEST_WORKERS) --dist worksteal

tiny: $(STAMP)  ## run every figure at tiny scale (seconds each)
	repro run all scale=tiny

all: $(STAMP)  ## fetch the data sets with a public download, then run every figure at full scale (a GPU box)
	@repro data fetch || echo "make all: not every data set could be fetched (above); the figures that need one will say what to put where"
	repro run all scale=full

data: $(STAMP)  ## download and verify every data set the figures need (`repro data list` shows what is there)
	repro data fetch

full-cpu: $(STAMP)  ## run at full scale the figures that are feasible on a CPU, then commit results/
	$(PYTHON) scripts/run_cpu_full.py

plots: $(STAMP)  ## redraw every plot from the CSVs (trains nothing)
	repro plot

check: $(STAMP)  ## evaluate every figure's claims on its CSVs
	repro check

report: $(STAMP)  ## write results/README.md (gallery with claims)
	repro report

bench: $(STAMP)  ## run the benchmarks (ratios against in-process baselines)
	@for b in benchmarks/*.py; do echo "== $$b"; $(PYTHON) $$b || exit 1; done

clean:  ## remove the run store and tiny results
	rm -rf runs results/*/*_tiny.*
