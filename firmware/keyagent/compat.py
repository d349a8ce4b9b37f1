# What MicroPython has built in and CPython lacks, for the shared core.
# `from keyagent.compat import const` still folds constants at compile time
# on MicroPython (the compiler recognises const() by name) and is the
# identity on CPython.
try:
    from micropython import const
except ImportError:

    def const(x):
        return x


# MicroPython's ticks_ms wraps at 2**30. The core takes times modulo that
# period, so time.ticks_ms() can be passed straight in; this is the signed
# distance a - b, as time.ticks_diff, on both runtimes.
TICKS_MASK = const(0x3FFFFFFF)
_TICKS_HALF = const(0x20000000)


def ticks_diff(a, b):
    return ((a - b + _TICKS_HALF) & TICKS_MASK) - _TICKS_HALF
