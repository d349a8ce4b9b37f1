# Viper versions of keyagent.crypto.bufops for MicroPython. Same contracts.
import micropython


@micropython.viper
def xor_into(dst: ptr8, src: ptr8, off: int, n: int):
    for i in range(n):
        dst[i] ^= src[off + i]


@micropython.viper
def copy_into(dst: ptr8, doff: int, src: ptr8, soff: int, n: int):
    for i in range(n):
        dst[doff + i] = src[soff + i]


@micropython.viper
def fill(buf: ptr8, start: int, end: int, value: int):
    for i in range(start, end):
        buf[i] = value


@micropython.viper
def ct_equal(a: ptr8, b: ptr8, n: int) -> bool:
    diff = 0
    for i in range(n):
        diff |= a[i] ^ b[i]
    return diff == 0
