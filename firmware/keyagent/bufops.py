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


def ct_equal(a, b, n):
    # Compares a[0:n] with b[0:n], always touching every byte, so that the
    # time taken does not tell an attacker how many leading bytes matched.
    diff = 0
    for i in range(n):
        diff |= a[i] ^ b[i]
    return diff == 0


from keyagent import features

if features.NATIVE:
    try:
        from keyagent.bufops_viper import xor_into, copy_into, ct_equal  # noqa: F811
    except (ImportError, SyntaxError, NameError):
        # CPython, or a MicroPython build without the viper emitter.
        pass
