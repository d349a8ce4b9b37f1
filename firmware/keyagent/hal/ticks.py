# MicroPython's ms clock (time.ticks_ms, ticks_diff, sleep_ms) for the
# adapters, with CPython stand-ins that wrap at 2**30 the same way, so the
# adapters run unchanged in the host tests and tools.
try:
    from time import sleep_ms, ticks_diff, ticks_ms
except ImportError:  # CPython
    from time import monotonic, sleep

    from keyagent.compat import ticks_diff  # noqa: F401  (the same wrap-around arithmetic)

    def ticks_ms():
        return int(monotonic() * 1000) & 0x3FFFFFFF

    def sleep_ms(ms):
        sleep(ms / 1000)
