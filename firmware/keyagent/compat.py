# What MicroPython has built in and CPython lacks, for the shared core.
# `from keyagent.compat import const` still folds constants at compile time
# on MicroPython (the compiler recognises const() by name) and is the
# identity on CPython.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x
