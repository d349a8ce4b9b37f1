# `make bench`: runs every benchmark in bench/ and passes through its
# `BENCH <name> <value> <unit>` lines. bench_*.py and arm_*.py (drivers of
# MicroPython on an emulated Cortex-M, host_tools.arm_qemu) run under CPython;
# mpy_*.py run under the MicroPython unix port (MICROPYTHON), with
# firmware/ and tests/keyagent/ on its path. Ratios are measured within one run of one script.
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def commands():
    mpy = os.environ.get("MICROPYTHON") or os.path.join(os.path.dirname(sys.executable), "micropython")
    for name in sorted(os.listdir(HERE)):
        path = os.path.join(HERE, name)
        if name.startswith(("bench_", "arm_")) and name.endswith(".py"):
            yield name, [sys.executable, path]
        elif name.startswith("mpy_") and name.endswith(".py"):
            yield name, [mpy, path]


def main():
    # MicroPython benchmarks may use the firmware tests' stand-ins too.
    env = dict(os.environ, MICROPYPATH=":".join(
        (os.path.join(ROOT, "firmware"), HERE, os.path.join(ROOT, "tests", "keyagent"))))
    status = 0
    for name, cmd in commands():
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        for line in proc.stdout.splitlines():
            if line.startswith("BENCH "):
                print(line, flush=True)
        if proc.returncode != 0:
            status = 1
            print("bench %s failed:\n%s" % (name, proc.stderr.strip()), file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
