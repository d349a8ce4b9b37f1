# Runs the firmware tests as plain scripts under the MicroPython unix port:
#   micropython tests/keyagent/run.py [--plain] [--soft-aes] [--skip m1,m2] [test_module ...]
# (tests/keyagent and its package folders; a test_module is a plain name: test_cmac)
# --skip names test modules not to import (those a board image cannot run,
# e.g. the unix/ ones on the qemu port); a module that fails to import counts
# as one failure and the run goes on.
# --plain turns off the viper fast paths so the fallbacks face the same tests;
# --soft-aes replaces cryptolib with keyagent.crypto.aes_soft (the firmware fallback).
# Prints one line per failure and a closing "N passed, N failed".
import sys
import os

_HERE = __file__.rsplit("/", 1)[0]
sys.path.insert(0, _HERE)
sys.path.insert(0, _HERE + "/../../firmware")

args = sys.argv[1:]
if "--soft-aes" in args:
    # Run everything over the AES written in MicroPython instead of cryptolib.
    args.remove("--soft-aes")
    import keyagent.features

    keyagent.features.SOFT_AES = True
if "--plain" in args:
    args.remove("--plain")
    import keyagent.features

    keyagent.features.NATIVE = False

skip = []
if "--skip" in args:
    i = args.index("--skip")
    skip = args[i + 1].split(",")
    del args[i:i + 2]

import gc
import keyagent.crypto.aes

print("keyagent.crypto.aes backend: %s" % keyagent.crypto.aes.BACKEND)


def test_modules():
    # tests/keyagent/test_*.py and tests/keyagent/<package>/test_*.py, each
    # package folder on the path so a module imports by its plain name.
    names = []
    for sub in [""] + sorted(os.listdir(_HERE)):
        folder = _HERE + "/" + sub if sub else _HERE
        if sub and not (os.stat(folder)[0] & 0x4000):
            continue
        found = sorted(n[:-3] for n in os.listdir(folder) if n.startswith("test_") and n.endswith(".py"))
        if found and sub:
            sys.path.append(folder)
        names += found
    return names


names = test_modules()
if args:
    names = [n for n in names if n in args]
passed = failed = skipped = 0
for name in names:
    if name in skip:
        skipped += 1
        print("SKIP %s: not for this port" % name)
        continue
    try:
        mod = __import__(name)
    except Exception as e:
        failed += 1
        print("FAIL %s: import: %s %s" % (name, type(e).__name__, e))
        continue
    for attr in sorted(dir(mod)):
        if not attr.startswith("test_"):
            continue
        try:
            getattr(mod, attr)()
            passed += 1
        except Exception as e:
            failed += 1
            print("FAIL %s.%s: %s %s" % (name, attr, type(e).__name__, e))
            sys.print_exception(e)
    # Unload the module so a board's small heap holds one test module at a time.
    del sys.modules[name]
    mod = None
    gc.collect()
print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
sys.exit(1 if failed else 0)
