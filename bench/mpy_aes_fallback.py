# MicroPython: the AES written in MicroPython (keyagent.crypto.aes_soft), what
# firmware without cryptolib runs, against cryptolib, all in this one run.
#   mpy_aes_soft_block_us / _plain_block_us: one block, viper / plain rounds.
#   mpy_aes_soft_vs_cryptolib: the viper block against the cryptolib block.
#   mpy_secoc_vs_aes_fallback: protect + verify of the Profile 1 frame of
#     mpy_secoc.py with the CMAC over the fallback AES (keyagent.crypto.aes.use_soft),
#     as a multiple of the two cryptolib AES block calls that frame needs;
#     mpy_secoc_vs_aes is the same frame over cryptolib.
#   mpy_secoc_soft_alloc: heap bytes per frame on the fallback path.
import time

import cryptolib
from keyagent.crypto import aes
from keyagent.crypto import aes_soft
from mpy_secoc import alloc_per_frame, endpoints, time_frames  # the same frame, the same loops

KEY = bytes(range(16))
ROUNDS = 1000
FRAMES = 2000
REPEATS = 7


def block_run(encrypt):
    buf = bytearray(16)
    t0 = time.ticks_us()
    for _ in range(ROUNDS):
        encrypt(buf, buf)
    return time.ticks_diff(time.ticks_us(), t0) / ROUNDS


def soft_endpoints():
    was = aes.use_soft(True)
    try:
        return endpoints()
    finally:
        aes.use_soft(was)


def frame_run(tx, rx):
    return time_frames(tx, rx, FRAMES) / FRAMES


def main():
    native = cryptolib.aes(KEY, 1).encrypt
    soft = aes_soft.new(KEY).encrypt
    plain = aes_soft.SoftAes(KEY).encrypt
    tx, rx = soft_endpoints()
    frame_run(tx, rx)  # warm up
    # The fastest of REPEATS runs of each, the runs interleaved, so that load
    # on a shared machine hits every contender alike.
    best = [1e9] * 4
    for _ in range(REPEATS):
        for i, t in enumerate((block_run(native), block_run(soft), block_run(plain), frame_run(tx, rx))):
            best[i] = min(best[i], t)
    native_us, soft_us, plain_us, frame_us = best
    print("BENCH mpy_aes_soft_block_us %.2f us" % soft_us)
    print("BENCH mpy_aes_soft_plain_block_us %.2f us" % plain_us)
    print("BENCH mpy_aes_cryptolib_block_us %.3f us" % native_us)
    print("BENCH mpy_aes_soft_vs_cryptolib %.1f x" % (soft_us / native_us))
    print("BENCH mpy_secoc_soft_frame_us %.2f us" % frame_us)
    print("BENCH mpy_secoc_vs_aes_fallback %.1f x" % (frame_us / (2 * native_us)))
    print("BENCH mpy_secoc_soft_alloc %.1f B/frame" % alloc_per_frame(tx, rx, FRAMES))


main()
