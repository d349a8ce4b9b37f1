# The test folders mirror the code: tests/keyagent/<package> (run under
# MicroPython too, by tests/keyagent/run.py), tests/emulator,
# tests/host_tools, tests/boards, tests/interop (third-party peers) and
# tests/fuzz. pytest imports them with --import-mode=importlib, so tests/
# itself is never on sys.path (its keyagent/ would shadow the firmware
# package); the folders of shared helpers are put there instead.
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
for _sub in ("helpers", "keyagent", "host_tools", "fuzz"):
    _path = os.path.join(_HERE, _sub)
    if _path not in sys.path:
        sys.path.insert(0, _path)
