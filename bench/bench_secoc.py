# CPython: protect + verify of Profile 1 classic-CAN frames per second on one
# core (the same frame as bench/mpy_secoc.py), best of five runs.
import time

from keyagent.crypto.cmac import Cmac
from keyagent.secoc.freshness import CounterFreshness
from keyagent.secoc.engine import SecOCRx, SecOCTx, layout_for_profile

N = 20000


def run():
    lay = layout_for_profile(1, 0x123, 4, fv_bits=24)
    tx = SecOCTx(lay, CounterFreshness(24, 8))
    rx = SecOCRx(lay, CounterFreshness(24, 8, 1))
    tx.key = rx.key = Cmac(bytes(range(16)))
    payload = bytearray(b"\x11\x22\x33\x44")
    frame = bytearray(8)
    protect, verify = tx.protect, rx.verify
    t0 = time.perf_counter()
    for _ in range(N):
        protect(payload, 4, frame)
        if verify(frame, 8):
            raise RuntimeError("verify failed")
    return N / (time.perf_counter() - t0)


print("BENCH cpy_secoc_rate %.0f frames/s" % max(run() for _ in range(5)))
