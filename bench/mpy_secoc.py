# MicroPython: the SecOC per-frame cost.
#   mpy_secoc_vs_aes: protect + verify of a Profile 1 classic-CAN frame (4-byte
#     payload, 8 FV bits and 24 MAC bits on the wire, 24-bit complete FV), as a
#     multiple of the raw AES-ECB block calls that frame needs (one per
#     protect, one per verify), both timed in this run with the same loop.
#   mpy_secoc_alloc: heap bytes allocated per frame in steady state.
import gc
import time

from keyagent.crypto import aes
from keyagent.crypto.cmac import Cmac
from keyagent.secoc.freshness import CounterFreshness
from keyagent.secoc.engine import SecOCRx, SecOCTx, layout_for_profile

N = 10000
KEY = bytes(range(16))


def endpoints():
    lay = layout_for_profile(1, 0x123, 4, fv_bits=24)
    tx = SecOCTx(lay, CounterFreshness(24, 8))
    rx = SecOCRx(lay, CounterFreshness(24, 8, 1))
    tx.key = rx.key = Cmac(KEY)
    return tx, rx


def time_aes(n):
    enc = aes.new(KEY).encrypt
    src = bytearray(16)
    dst = bytearray(16)
    t0 = time.ticks_us()
    for _ in range(n):
        enc(src, dst)
        enc(src, dst)
    return time.ticks_diff(time.ticks_us(), t0)


def time_frames(tx, rx, n):
    payload = bytearray(b"\x11\x22\x33\x44")
    frame = bytearray(8)
    protect = tx.protect
    verify = rx.verify
    t0 = time.ticks_us()
    for _ in range(n):
        protect(payload, 4, frame)
        if verify(frame, 8):
            raise RuntimeError("verify failed")
    return time.ticks_diff(time.ticks_us(), t0)


def alloc_per_frame(tx, rx, n):
    payload = bytearray(b"\x11\x22\x33\x44")
    frame = bytearray(8)
    protect = tx.protect
    verify = rx.verify
    gc.collect()
    gc.disable()
    before = gc.mem_alloc()
    for _ in range(n):
        protect(payload, 4, frame)
        verify(frame, 8)
    used = gc.mem_alloc() - before
    gc.enable()
    return used / n


def main():
    tx, rx = endpoints()
    time_frames(tx, rx, 500)  # warm up
    # The fastest of several runs of each, measured alternately: what the
    # code costs, without the pauses a shared machine adds at random.
    frames = aes_calls = None
    for _ in range(7):
        t = time_frames(tx, rx, N)
        frames = t if frames is None or t < frames else frames
        t = time_aes(N)
        aes_calls = t if aes_calls is None or t < aes_calls else aes_calls
    print("BENCH mpy_secoc_frame_us %.2f us" % (frames / N))
    print("BENCH mpy_aes_block_us %.3f us" % (aes_calls / N / 2))
    print("BENCH mpy_secoc_vs_aes %.1f x" % (frames / aes_calls))
    print("BENCH mpy_secoc_alloc %.1f B/frame" % alloc_per_frame(tx, rx, N))


if __name__ == "__main__":  # bench/mpy_aes_fallback.py imports the pieces
    main()
