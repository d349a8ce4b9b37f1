# Runs the firmware tests as plain scripts under the MicroPython unix port:
#   micropython tests/firmware/run.py [--plain] [--soft-aes] [test_module ...]
# --plain turns off the viper fast paths so the fallbacks face the same tests;
# --soft-aes replaces cryptolib with keyagent.aes_soft (the firmware fallback).
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

import keyagent.aes

print("keyagent.aes backend: %s" % keyagent.aes.BACKEND)
names = args or sorted(n[:-3] for n in os.listdir(_HERE) if n.startswith("test_") and n.endswith(".py"))
passed = failed = 0
for name in names:
    mod = __import__(name)
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
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
