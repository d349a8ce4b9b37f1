# Runs tests/keyagent under the real MicroPython unix port, with the viper
# fast paths, again with the plain fallbacks, and with cryptolib replaced by
# the AES written in MicroPython (viper and plain), as on firmware built
# without cryptolib.
import subprocess

import pytest

from mpy_interpreter import ROOT, micropython

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
        [micropython(), "-X", "heapsize=4m", "tests/keyagent/run.py"] + flags,
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    print(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "keyagent.crypto.aes backend: %s" % backend in proc.stdout.splitlines()
    assert " 0 failed" in proc.stdout.splitlines()[-1]
