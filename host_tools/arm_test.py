# `make arm-test`: the firmware test suite (tests/keyagent, driven by its
# run.py) on MicroPython's qemu port, on an emulated Cortex-M4F (mps2-an386)
# and Cortex-M7 (mps2-an500), each with the key agent frozen in as on the real
# boards, in the modes of tests/test_micropython.py (both viper ones on each
# core, one plain one each, see DEFAULT_MODES). Prints one
# "arm-test <core> <mode>: N passed, N failed, N skipped" line per run and
# exits 1 if any test failed; without a toolchain or MicroPython source it
# says why it skipped and exits 0.
#   python -m host_tools.arm_test [--core cortex-m4f] [--mode plain ...]
import argparse
import os
import re
import resource
import sys
import threading
import time

from host_tools import arm_qemu

ROOT = arm_qemu.ROOT
MODES = {
    "viper-cryptolib": [],
    "plain-cryptolib": ["--plain"],
    "viper-soft-aes": ["--soft-aes"],
    "plain-soft-aes": ["--plain", "--soft-aes"],
}
# What each core runs. The plain modes run bytecode, the same on every core;
# what differs between the Cortex-M4F and the M7 is the viper machine code and
# cryptolib's C, so each core runs both viper modes and one plain mode, and the
# two QEMUs, side by side, take about as long.
DEFAULT_MODES = {
    "cortex-m4f": ["viper-cryptolib", "viper-soft-aes", "plain-soft-aes"],
    "cortex-m7": ["viper-cryptolib", "viper-soft-aes", "plain-cryptolib"],
}
# The vehicle simulations (tests/keyagent/vehicle_sim.py) are protocol logic:
# every mode but plain-soft-aes runs them here, and plain-soft-aes runs them on
# the unix port (tests/test_micropython.py). Under QEMU, with every CMAC in
# MicroPython bytecode, they took 130 of that mode's 152 s.
SLOW_IN = {"plain-soft-aes": ["test_rekey", "test_rekey_attacks", "test_multi_counter_agent"]}
# Test modules that need the unix port (sockets, select, keyagent.unix, or a
# helper marked "# port: unix"), directly or through a helper module of
# tests/keyagent: skipped by name on a board image, never imported there.
_UNIX_ONLY = re.compile(r"^\s*(import|from)\s+(socket|select|keyagent\.unix)\b|^# port: unix$", re.M)
_IMPORTS = re.compile(r"^\s*(?:import|from)\s+(\w+)", re.M)
_RESULT = re.compile(r"^(\d+) passed, (\d+) failed(?:, (\d+) skipped)?", re.M)


def test_files():
    # {device path: host path}: the firmware tests, their vectors and the
    # boards' configurations, laid out as in the repository.
    files = {}
    for top, keep in (("tests/keyagent", ".py"), ("tests/vectors", ".json"), ("boards", "board.json")):
        for dirpath, _, names in os.walk(os.path.join(ROOT, top)):
            for n in names:
                if n.endswith(keep):
                    path = os.path.join(dirpath, n)
                    files["/" + os.path.relpath(path, ROOT)] = path
    return files


def unix_only_tests():
    sources = {}
    for dirpath, _, files in os.walk(os.path.join(ROOT, "tests", "keyagent")):
        for n in files:
            if n.endswith(".py"):
                with open(os.path.join(dirpath, n)) as f:
                    sources[n[:-3]] = (os.path.basename(dirpath) == "unix", f.read())
    helpers = {name for name, (_, text) in sources.items()
               if not name.startswith("test_") and _UNIX_ONLY.search(text)}
    return sorted(name for name, (in_unix, text) in sources.items() if name.startswith("test_") and (
        in_unix or _UNIX_ONLY.search(text) or helpers & set(_IMPORTS.findall(text))))


def run_mode(session, flags, skip):
    # One fresh interpreter: run.py as __main__ would, its sys.exit caught.
    session.remount()
    args = flags + (["--skip", ",".join(skip)] if skip else [])
    code = ("import sys\nsys.argv[:] = %r\nsys.path.insert(0, '/tests/keyagent')\n"
            "try:\n import run\nexcept SystemExit:\n pass\n" % (["run.py"] + args))
    out, err = session.run(code)
    return out, err


def run_core(core, modes, files, skip):
    # All modes on one core in one QEMU; returns (report lines, all passed).
    lines, ok = [], True
    start = time.time()
    session = arm_qemu.Session(core, arm_qemu.build(core, log=lines.append), files)
    try:
        for mode in modes:
            t0 = time.time()
            slow = SLOW_IN.get(mode, [])
            out, err = run_mode(session, MODES[mode], skip + slow)
            m = _RESULT.search(out)
            if err or not m or m.group(2) != "0":
                ok = False
                lines.append(out + err)
            if not m:
                lines.append("arm-test %s %s: the run did not finish" % (core, mode))
                continue
            lines += ["  SKIP %s: a vehicle simulation, run in the other modes and on the unix port" % name
                      for name in slow]
            lines.append("arm-test %s %s: %s in %.0f s" % (core, mode, m.group(0), time.time() - t0))
    finally:
        session.close()
    lines.append("arm-test %s: %.0f s" % (core, time.time() - start))
    return lines, ok


def main(argv=None):
    parser = argparse.ArgumentParser(description="The firmware tests on emulated Cortex-M cores.")
    parser.add_argument("--core", action="append", choices=sorted(arm_qemu.CORES))
    parser.add_argument("--mode", action="append", choices=sorted(MODES),
                        help="default: DEFAULT_MODES (each core both viper modes and one plain one)")
    args = parser.parse_args(argv)
    try:
        arm_qemu.micropython_source()
    except arm_qemu.Unavailable as e:
        print("arm-test: SKIPPED, %s; the firmware tests did not run on an emulated Cortex-M (README: "
              "Running on an emulated Cortex-M)" % e)
        return 0
    except arm_qemu.BadMicropyDir as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    skip = unix_only_tests()
    files = test_files()
    results = {}

    def worker(core):
        try:
            results[core] = run_core(core, args.mode or DEFAULT_MODES[core], files, skip)
        except Exception as e:  # a build or QEMU failure is this core's result
            results[core] = (["arm-test %s: %s: %s" % (core, type(e).__name__, e)], False)

    # One QEMU per core, side by side (QEMU is single-threaded here).
    threads = [threading.Thread(target=worker, args=(core,)) for core in args.core or sorted(arm_qemu.CORES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("arm-test: skipped in every mode, they need the unix port: %s" % ", ".join(skip))
    for core in sorted(results):
        print("\n".join(results[core][0]), flush=True)
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print("arm-test: %.0f s of CPU in QEMU and the builds" % (cpu.ru_utime + cpu.ru_stime))
    return 0 if all(ok for _, ok in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
