# `make firmware` (host_tools.firmware_build): the checks that stop it with
# one clear error line, and the MicroPython make commands it runs, against a
# stand-in MicroPython checkout and toolchain (the real build needs both).
import os
import stat
import subprocess
import sys

import pytest

from host_tools import firmware_build

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run(*args, path=None):
    env = dict(os.environ)
    if path is not None:
        env["PATH"] = path
    return subprocess.run(
        [sys.executable, "-m", "host_tools.firmware_build"] + list(args),
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=60,
    )


@pytest.fixture
def micropy(tmp_path):
    top = tmp_path / "micropython"
    (top / "ports" / "stm32" / "boards" / "NUCLEO_F446RE").mkdir(parents=True)
    (top / "ports" / "stm32" / "boards" / "NUCLEO_H743ZI").mkdir(parents=True)
    (top / "ports" / "stm32" / "Makefile").write_text("")
    (top / "lib" / "stm32lib").mkdir(parents=True)
    (top / "lib" / "stm32lib" / "README.md").write_text("")
    (top / "lib" / "tinyusb" / "src").mkdir(parents=True)
    (top / "lib" / "tinyusb" / "src" / "tusb.h").write_text("")
    (top / "lib" / "mbedtls" / "library").mkdir(parents=True)
    (top / "lib" / "mbedtls" / "library" / "aes.c").write_text("")
    return str(top)


@pytest.fixture
def toolchain(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gcc = bin_dir / "arm-none-eabi-gcc"
    gcc.write_text("#!/bin/sh\nexit 0\n")
    gcc.chmod(gcc.stat().st_mode | stat.S_IEXEC)
    return str(bin_dir) + os.pathsep + os.environ["PATH"]


def test_missing_micropy_dir():
    proc = run("--board", "NUCLEO_F446RE")
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: MICROPY_DIR is not set: clone MicroPython (v1.28 or later, git clone "
        "https://github.com/micropython/micropython) and pass MICROPY_DIR=/path/to/micropython\n"
    )


def test_unknown_board(micropy):
    proc = run("--board", "NUCLEO_F999", "--micropy-dir", micropy)
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: unknown board NUCLEO_F999 (known: NUCLEO_F446RE, NUCLEO_G474RE, "
        "NUCLEO_H743ZI, PYBV11, STM32F4DISC)\n"
    )


def test_not_a_micropython_checkout(tmp_path):
    proc = run("--board", "NUCLEO_F446RE", "--micropy-dir", str(tmp_path))
    assert proc.returncode == 2
    assert proc.stderr == "error: MICROPY_DIR=%s is not a MicroPython checkout (no ports/stm32/Makefile)\n" % tmp_path


def test_missing_toolchain(micropy):
    proc = run("--board", "NUCLEO_F446RE", "--micropy-dir", micropy, "--cross-compile", "no-such-prefix-")
    assert proc.returncode == 2
    assert proc.stderr == "error: no-such-prefix-gcc not found: %s\n" % firmware_build.INSTALL_HINT


def test_missing_submodules(micropy):
    os.remove(os.path.join(micropy, "lib", "stm32lib", "README.md"))
    proc = run("--board", "NUCLEO_F446RE", "--micropy-dir", micropy)
    assert proc.returncode == 2
    assert proc.stderr == ("error: MicroPython's submodules are missing (no lib/stm32lib/README.md): run make -C "
                           "%s/ports/stm32 BOARD=NUCLEO_F446RE submodules\n" % micropy)


def test_missing_tinyusb(micropy):
    # The stm32 port of MicroPython 1.28 compiles TinyUSB: without it the
    # build used to stop deep inside make instead of here.
    os.remove(os.path.join(micropy, "lib", "tinyusb", "src", "tusb.h"))
    proc = run("--board", "NUCLEO_F446RE", "--micropy-dir", micropy)
    assert proc.returncode == 2
    assert proc.stderr == ("error: MicroPython's submodules are missing (no lib/tinyusb/src/tusb.h): run make -C "
                           "%s/ports/stm32 BOARD=NUCLEO_F446RE submodules\n" % micropy)


def git(*args, cwd):
    subprocess.run(["git", "-c", "protocol.file.allow=always", "-c", "user.name=t", "-c", "user.email=t@t",
                    "-c", "init.defaultBranch=main"] + list(args), cwd=cwd, check=True, capture_output=True)


def test_stm32lib_moved_off_its_pin(micropy, tmp_path, toolchain):
    # A checkout whose lib/stm32lib is at another commit than the one it
    # pins (a pull without `git submodule update`) is stopped with the fix.
    hal = tmp_path / "stm32lib"
    hal.mkdir()
    (hal / "README.md").write_text("v1")
    git("init", "-q", cwd=hal)
    git("add", ".", cwd=hal)
    git("commit", "-qm", "v1", cwd=hal)
    os.remove(os.path.join(micropy, "lib", "stm32lib", "README.md"))
    os.rmdir(os.path.join(micropy, "lib", "stm32lib"))
    git("init", "-q", cwd=micropy)
    git("submodule", "add", "-q", str(hal), "lib/stm32lib", cwd=micropy)
    git("commit", "-qm", "pin", cwd=micropy)
    proc = run("--board", "NUCLEO_F446RE", "--micropy-dir", micropy, "--dry-run", path=toolchain)
    assert proc.returncode == 0, proc.stderr  # at its pin: builds
    sub = os.path.join(micropy, "lib", "stm32lib")
    with open(os.path.join(sub, "README.md"), "w") as f:
        f.write("v2")
    git("commit", "-qam", "v2", cwd=sub)
    proc = run("--board", "NUCLEO_F446RE", "--micropy-dir", micropy, "--dry-run", path=toolchain)
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: lib/stm32lib is not at the commit this MicroPython checkout pins (a build against other HAL or "
        "USB sources fails or misbehaves): run git -C %s submodule update lib/stm32lib\n" % micropy)


def test_missing_mbedtls(micropy):
    os.remove(os.path.join(micropy, "lib", "mbedtls", "library", "aes.c"))
    proc = run("--board", "NUCLEO_F446RE", "--micropy-dir", micropy)
    assert proc.returncode == 2
    assert proc.stderr == (
        "error: MicroPython's lib/mbedtls (cryptolib's AES) is missing: run "
        "git -C %s submodule update --init lib/mbedtls\n" % micropy
    )


def test_dry_run_prints_the_make_commands(micropy, toolchain):
    proc = run("--board", "NUCLEO_H743ZI", "--micropy-dir", micropy, "--jobs", "2", "--dry-run", path=toolchain)
    assert proc.returncode == 0, proc.stderr
    manifest = os.path.join(ROOT, "boards", "NUCLEO_H743ZI", "manifest.py")
    assert proc.stdout == (
        "+ make -C %s/mpy-cross -j2\n"
        "+ make -C %s/ports/stm32 -j2 BOARD=NUCLEO_H743ZI BUILD=%s FROZEN_MANIFEST=%s\n"
        % (micropy, micropy, os.path.join(ROOT, "build", "firmware", "NUCLEO_H743ZI", "obj"), manifest)
    )


def test_f446re_gets_cryptolib_from_the_aes_c_module(micropy, toolchain):
    # The F446 has no RNG for the ssl port, so it builds cryptolib from
    # boards/cmodules instead (as do the boards whose flash TLS overflows).
    proc = run("--board", "NUCLEO_F446RE", "--micropy-dir", micropy, "--jobs", "1", "--dry-run", path=toolchain)
    assert proc.returncode == 0, proc.stderr
    last = proc.stdout.splitlines()[-1]
    assert last.endswith(" USER_C_MODULES=%s" % os.path.join(ROOT, "boards", "cmodules"))
    assert "MICROPY_PY_SSL" not in last


def test_make_firmware_without_micropy_dir_fails_clearly():
    proc = subprocess.run(["make", "--no-print-directory", "firmware", "MICROPY_DIR="], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "error: MICROPY_DIR is not set" in proc.stderr


def test_every_board_has_a_manifest_that_freezes_keyagent():
    for board in firmware_build.known_boards():
        with open(os.path.join(ROOT, "boards", board, "manifest.py")) as f:
            assert 'include("../manifest.py"' in f.read()  # with options (ota=False) or without


def test_obj_dir_is_emptied_when_the_make_command_changes(tmp_path, monkeypatch):
    monkeypatch.setattr(firmware_build, "OUT", str(tmp_path))
    obj = firmware_build.obj_dir("B")
    firmware_build.fresh_obj_dir("B", "make A=1")
    with open(os.path.join(obj, "x.o"), "w") as f:
        f.write("old")
    firmware_build.fresh_obj_dir("B", "make A=1")  # same command: objects kept
    assert os.path.exists(os.path.join(obj, "x.o"))
    firmware_build.fresh_obj_dir("B", "make A=2")  # changed: start over
    assert not os.path.exists(os.path.join(obj, "x.o"))
    with open(os.path.join(obj, "qkd-make-command")) as f:
        assert f.read() == "make A=2"
