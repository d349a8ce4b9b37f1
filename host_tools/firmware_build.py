# `make firmware BOARD=... MICROPY_DIR=...`: builds a MicroPython firmware
# image for one of the boards in boards/ with the key agent frozen in and
# cryptolib enabled, using the user's MicroPython checkout and ARM toolchain.
# This is a thin driver around MicroPython's own ports/stm32 Makefile:
#   make -C $MICROPY_DIR/mpy-cross
#   make -C $MICROPY_DIR/ports/stm32 BOARD=<micropython board> \
#        FROZEN_MANIFEST=boards/<BOARD>/manifest.py <board.json firmware.build_vars>
# Objects go to build/firmware/<BOARD>/obj (not into the user's checkout),
# rebuilt from scratch when the make command or the manifests change
# (MicroPython's make notices neither); the images land in build/firmware/<BOARD>/.
#   python -m host_tools.firmware_build --board NUCLEO_F446RE --micropy-dir ~/micropython
import argparse
import os
import shutil
import subprocess
import sys

from host_tools.boards import BOARDS, known_boards, load_board
from host_tools.errors import UserError
from host_tools.manifest import AGENT_MANIFEST, BOARDS_MANIFEST

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "build", "firmware")
IMAGES = ("firmware.elf", "firmware.bin", "firmware0.bin", "firmware1.bin", "firmware.hex", "firmware.dfu")
INSTALL_HINT = (
    "install the GNU Arm Embedded toolchain (Debian/Ubuntu: "
    "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi; "
    "or Arm's arm-gnu-toolchain for your OS) and put arm-none-eabi-gcc on PATH"
)


def board_config(board):
    if not board:
        raise UserError("BOARD is not set; one of: %s" % ", ".join(known_boards()))
    return load_board(board)


# The submodules ports/stm32 builds from, each by a file it must contain:
# the ST HAL (stm32lib), TinyUSB (the USB stack of MicroPython 1.28's stm32
# port) and Mbed TLS (cryptolib's AES).
SUBMODULES = (("lib/stm32lib", "README.md"), ("lib/tinyusb", "src/tusb.h"), ("lib/mbedtls", "library/aes.c"))


def submodules_off_their_pin(micropy_dir):
    # The SUBMODULES checked out at another commit than
    # the one the checkout records ("+" in git submodule status). A source
    # tree that is not a git checkout has no pins to compare: none.
    if not os.path.exists(os.path.join(micropy_dir, ".git")):
        return []
    proc = subprocess.run(["git", "-C", micropy_dir, "submodule", "status"], capture_output=True, text=True)
    if proc.returncode != 0:
        return []
    ours = [p for p, _ in SUBMODULES]
    return [line.split()[1] for line in proc.stdout.splitlines() if line.startswith("+") and line.split()[1] in ours]


def check_micropy_dir(micropy_dir, cfg):
    if not micropy_dir:
        raise UserError(
            "MICROPY_DIR is not set: clone MicroPython (v1.28 or later, "
            "git clone https://github.com/micropython/micropython) and pass "
            "MICROPY_DIR=/path/to/micropython"
        )
    port = os.path.join(micropy_dir, "ports", "stm32")
    if not os.path.exists(os.path.join(port, "Makefile")):
        raise UserError("MICROPY_DIR=%s is not a MicroPython checkout (no ports/stm32/Makefile)" % micropy_dir)
    if not os.path.isdir(os.path.join(port, "boards", cfg["micropython_board"])):
        raise UserError("this MicroPython checkout has no board %s; update it" % cfg["micropython_board"])
    make_submodules = "run make -C %s BOARD=%s submodules" % (port, cfg["micropython_board"])
    for path, marker in SUBMODULES:
        if not os.path.exists(os.path.join(micropy_dir, path, marker)):
            if path == "lib/mbedtls":
                raise UserError(
                    "MicroPython's lib/mbedtls (cryptolib's AES) is missing: run "
                    "git -C %s submodule update --init lib/mbedtls" % micropy_dir
                )
            raise UserError("MicroPython's submodules are missing (no %s/%s): %s" % (path, marker, make_submodules))
    moved = submodules_off_their_pin(micropy_dir)
    if moved:
        raise UserError(
            "%s not at the commit this MicroPython checkout pins (a build against other "
            "HAL or USB sources fails or misbehaves): run git -C %s submodule update %s"
            % (", ".join(moved) + (" is" if len(moved) == 1 else " are"), micropy_dir, " ".join(moved))
        )
    return port


def check_toolchain(cross_compile):
    gcc = cross_compile + "gcc"
    if shutil.which(gcc) is None:
        raise UserError("%s not found: %s" % (gcc, INSTALL_HINT))


def obj_dir(board):
    return os.path.join(OUT, board, "obj")


def make_commands(cfg, micropy_dir, board, jobs):
    manifest = os.path.join(BOARDS, board, "manifest.py")
    stm32 = [
        "make", "-C", os.path.join(micropy_dir, "ports", "stm32"), "-j%d" % jobs,
        "BOARD=" + cfg["micropython_board"],
        "BUILD=" + obj_dir(board),
        "FROZEN_MANIFEST=" + manifest,
    ]
    # $(QKD_BOARDS) in a value names this repository's boards/ folder.
    build_vars = cfg["firmware"].get("build_vars", {})
    stm32 += ["%s=%s" % (k, build_vars[k].replace("$(QKD_BOARDS)", BOARDS)) for k in sorted(build_vars)]
    return [["make", "-C", os.path.join(micropy_dir, "mpy-cross"), "-j%d" % jobs], stm32]


def manifests_text(board):
    # MicroPython's make does not notice a changed manifest either.
    text = ""
    for path in (os.path.join(BOARDS, board, "manifest.py"), BOARDS_MANIFEST, AGENT_MANIFEST):
        with open(path) as f:
            text += f.read()
    return text


def fresh_obj_dir(board, command):
    # Empties the object folder when it was built by another make command
    # or manifest.
    stamp = os.path.join(obj_dir(board), "qkd-make-command")
    if os.path.exists(stamp):
        with open(stamp) as f:
            if f.read() == command:
                return
    shutil.rmtree(obj_dir(board), ignore_errors=True)
    os.makedirs(obj_dir(board))
    with open(stamp, "w") as f:
        f.write(command)


def build(board, micropy_dir, jobs=2, cross_compile="arm-none-eabi-", dry_run=False):
    cfg = board_config(board)
    micropy_dir = os.path.abspath(os.path.expanduser(micropy_dir)) if micropy_dir else ""
    check_micropy_dir(micropy_dir, cfg)
    check_toolchain(cross_compile)
    cmds = make_commands(cfg, micropy_dir, board, jobs)
    if not dry_run:
        fresh_obj_dir(board, " ".join(cmds[-1]) + "\n" + manifests_text(board))
    for cmd in cmds:
        print("+ " + " ".join(cmd), flush=True)
        if not dry_run and subprocess.run(cmd).returncode != 0:
            raise UserError("the MicroPython build failed (see its output above)")
    if dry_run:
        return []
    built = obj_dir(board)
    out = os.path.join(OUT, board)
    os.makedirs(out, exist_ok=True)
    copied = []
    for name in IMAGES:
        if os.path.exists(os.path.join(built, name)):
            shutil.copy(os.path.join(built, name), out)
            copied.append(os.path.join(out, name))
    for path in copied:
        print("%s: %d bytes" % (os.path.relpath(path, ROOT), os.path.getsize(path)))
    return copied


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m host_tools.firmware_build",
        description="Build MicroPython firmware for a board in boards/ with keyagent frozen in and cryptolib on.",
        epilog="example:\n  make firmware BOARD=NUCLEO_F446RE MICROPY_DIR=~/src/micropython",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--board", default="", help="board folder name under boards/")
    parser.add_argument("--micropy-dir", default="", help="a MicroPython checkout with its submodules")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cross-compile", default="arm-none-eabi-", help="toolchain prefix (default: %(default)s)")
    parser.add_argument("--dry-run", action="store_true", help="check and print the make commands only")
    args = parser.parse_args(argv)
    try:
        build(args.board, args.micropy_dir, args.jobs, args.cross_compile, args.dry_run)
    except UserError as e:
        print("error: %s" % e, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
