# The firmware tests on emulated Cortex-M4F and M7 cores (host_tools.arm_test,
# `make arm-test`), run by `make test` when the ARM toolchain, QEMU and a
# MicroPython source are present; and the pieces of that runner that need none.
import os
import struct
import subprocess
import sys

import pytest

from host_tools import arm_qemu, arm_test
from mpy_interpreter import ROOT, micropython


def test_unix_only_test_modules_are_picked_by_name():
    names = arm_test.unix_only_tests()
    assert "test_socketcand" in names  # tests/keyagent/unix/
    assert "test_cmac" not in names and "test_secoc" not in names


def test_the_board_gets_the_tests_their_vectors_and_board_configs():
    files = arm_test.test_files()
    assert "/tests/keyagent/run.py" in files and "/tests/keyagent/secoc/test_secoc.py" in files
    assert "/tests/vectors/aes_cmac_rfc4493.json" in files
    assert "/boards/NUCLEO_F446RE/board.json" in files
    assert not any(p.endswith(".pyc") for p in files)


def test_archive_layout_is_what_the_ramdisk_unpacks(tmp_path):
    a, b = tmp_path / "a.py", tmp_path / "b.json"
    a.write_bytes(b"x = 1\n")
    b.write_bytes(b"{}")
    arm_qemu.write_archive({"/t/a.py": str(a), "/v/b.json": str(b)}, str(tmp_path / "blob"))
    blob, got, pos = (tmp_path / "blob").read_bytes(), {}, 0
    while True:
        (n,) = struct.unpack_from("<H", blob, pos)
        if n == 0:
            break
        name = blob[pos + 2:pos + 2 + n].decode()
        (size,) = struct.unpack_from("<I", blob, pos + 2 + n)
        got[name] = blob[pos + 6 + n:pos + 6 + n + size]
        pos += 6 + n + size
    assert got == {"/t/a.py": b"x = 1\n", "/v/b.json": b"{}"} and pos == len(blob) - 2


def test_every_mode_runs_on_some_core_and_the_slow_skips_name_real_modules():
    assert set(m for modes in arm_test.DEFAULT_MODES.values() for m in modes) == set(arm_test.MODES)
    modules = set(os.path.basename(p)[:-3] for p in arm_test.test_files() if os.path.basename(p).startswith("test_"))
    for mode, names in arm_test.SLOW_IN.items():
        assert mode in arm_test.MODES and set(names) <= modules, names


def test_run_py_skips_test_modules_by_name():
    proc = subprocess.run([micropython(), "tests/keyagent/run.py", "--skip", "test_kdf,test_cmac", "test_kdf",
                           "test_cmac"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines()[-1] == "0 passed, 0 failed, 2 skipped"
    assert "SKIP test_kdf: not for this port" in proc.stdout


def test_a_wrong_micropy_dir_is_an_error_not_a_skip(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "host_tools.arm_test"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, MICROPY_DIR=str(tmp_path)))
    if "SKIPPED" in proc.stdout:
        pytest.skip(proc.stdout.strip())  # no toolchain here: that is checked first
    assert proc.returncode == 2
    assert proc.stderr == "error: MICROPY_DIR=%s is not a MicroPython source (no ports/qemu/Makefile)\n" % tmp_path


def test_without_a_toolchain_it_says_it_skipped_and_passes(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "host_tools.arm_test"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env=dict(os.environ, PATH=str(tmp_path)))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("arm-test: SKIPPED, arm-none-eabi-gcc, qemu-system-arm not found")


def arm_available():
    try:
        arm_qemu.micropython_source()
        return None
    except arm_qemu.Unavailable as e:
        return str(e)


def test_firmware_suite_on_emulated_cortex_m():
    why = arm_available()
    if why:
        pytest.skip("arm-test skipped: " + why)
    proc = subprocess.run([sys.executable, "-m", "host_tools.arm_test"], cwd=ROOT, capture_output=True, text=True,
                          timeout=1200, env=dict(os.environ, PYTHONPATH=ROOT))
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for core, modes in arm_test.DEFAULT_MODES.items():
        for mode in modes:
            line = [s for s in proc.stdout.splitlines() if s.startswith("arm-test %s %s: " % (core, mode))]
            assert len(line) == 1 and " passed, 0 failed, " in line[0], proc.stdout
            assert int(line[0].split(": ")[1].split()[0]) > 100, line  # the whole suite ran, not a stub


def test_build_key_follows_every_input(tmp_path, monkeypatch):
    # The cached firmware is rebuilt when a frozen module, a board file or the
    # make command changes, and only then.
    src = tmp_path / "m.py"
    src.write_text("a = 1\n")
    monkeypatch.setattr(arm_qemu, "_inputs", lambda: [str(src)])
    key = arm_qemu._build_key(str(tmp_path), ["make", "A=1"])
    assert arm_qemu._build_key(str(tmp_path), ["make", "A=1"]) == key
    assert arm_qemu._build_key(str(tmp_path), ["make", "A=2"]) != key
    src.write_text("a = 2\n")
    assert arm_qemu._build_key(str(tmp_path), ["make", "A=1"]) != key


def test_build_inputs_are_the_frozen_agent_and_the_board_files():
    inputs = [os.path.relpath(p, ROOT) for p in arm_qemu._inputs()]
    assert "firmware/keyagent/secoc/frame_mac_viper.py" in inputs
    assert "boards/qemu/MPS2_AN386/mpconfigboard.mk" in inputs and "boards/manifest.py" in inputs
    assert "boards/cmodules/cryptolib_aes/micropython.mk" in inputs
    assert "boards/qemu/ramdisk.py" not in inputs  # runs on the board, not built in
