# Small buffer operations on the per-frame path. Plain Python here; on
# MicroPython the viper versions in bufops_viper replace them when the
# emitter is available, and both pass the same tests.


def xor_into(dst, src, off, n):
    # dst[0:n] ^= src[off:off+n], in place, no slicing copies.
    for i in range(n):
        dst[i] ^= src[off + i]


def copy_into(dst, doff, src, soff, n):
    # dst[doff:doff+n] = src[soff:soff+n] without a slice object or a copy.
    for i in range(n):
        dst[doff + i] = src[soff + i]


def fill(buf, start, end, value):
    for i in range(start, end):
        buf[i] = value


def ct_equal(a, b, n):
    # Compares a[0:n] with b[0:n], always touching every byte, so that the
    # time taken does not tell an attacker how many leading bytes matched.
    diff = 0
    for i in range(n):
        diff |= a[i] ^ b[i]
    return diff == 0


import sys

from keyagent import features

if sys.implementation.name != "micropython":
    # CPython: whole-buffer operations in C beat any per-byte loop, and
    # allocation is no concern there.
    def xor_into(dst, src, off, n):  # noqa: F811
        a = int.from_bytes(dst[0:n], "big") ^ int.from_bytes(src[off:off + n], "big")
        dst[0:n] = a.to_bytes(n, "big")

    def copy_into(dst, doff, src, soff, n):  # noqa: F811
        dst[doff:doff + n] = src[soff:soff + n]

    def fill(buf, start, end, value):  # noqa: F811
        if end > start:
            buf[start:end] = bytes((value,)) * (end - start)

elif features.NATIVE:
    try:
        from keyagent.crypto.bufops_viper import xor_into, copy_into, fill, ct_equal  # noqa: F811
    except (ImportError, SyntaxError, NameError):
        pass  # a MicroPython build without the viper emitter
