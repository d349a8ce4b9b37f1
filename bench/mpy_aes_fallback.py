# MicroPython: the cost of one AES-128 block with the AES written in
# MicroPython (keyagent.aes_soft, viper rounds) against cryptolib, both
# measured in this one run. Also the plain (non-viper) rounds for reference.
# Other benchmarks that need the fallback call keyagent.aes.use_soft(True).
import time

import cryptolib
from keyagent import aes_soft

KEY = bytes(range(16))
ROUNDS = 1000
REPEATS = 7


def run_us(encrypt, buf):
    t0 = time.ticks_us()
    for _ in range(ROUNDS):
        encrypt(buf, buf)
    return time.ticks_diff(time.ticks_us(), t0) / ROUNDS


def block_us(*encrypts):
    # The fastest of REPEATS runs of each, the runs interleaved, so that load
    # on a shared machine hits every contender alike.
    buf = bytearray(16)
    best = [1e9] * len(encrypts)
    for _ in range(REPEATS):
        for i, encrypt in enumerate(encrypts):
            best[i] = min(best[i], run_us(encrypt, buf))
    return best


def main():
    native, soft, plain = block_us(
        cryptolib.aes(KEY, 1).encrypt, aes_soft.new(KEY).encrypt, aes_soft.SoftAes(KEY).encrypt
    )
    print("BENCH mpy_aes_soft_block_us %.2f us" % soft)
    print("BENCH mpy_aes_soft_plain_block_us %.2f us" % plain)
    print("BENCH mpy_aes_cryptolib_block_us %.3f us" % native)
    print("BENCH mpy_aes_soft_vs_cryptolib %.1f x" % (soft / native))


main()
