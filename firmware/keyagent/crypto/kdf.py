# NIST SP 800-108r1 key derivation in counter mode (section 4.1) with
# AES-128-CMAC as the PRF: SecOC keys per message cluster and per epoch from
# QKD key material.
#
# Exact encoding (the one the CAVP KDFCTR vectors call CTRLOCATION =
# BEFORE_FIXED, RLEN = 32_BITS):
#
#   K(i) = CMAC(KI, [i]_32 || FixedInput)        i = 1, 2, ..., n = ceil(L / 128)
#   FixedInput = Label || 0x00 || Context || [L]_32
#   KO = the leftmost L bits of K(1) || K(2) || ... || K(n)
#
# [x]_32 is x as a 32-bit big-endian integer; L is the output length in bits.
#
# SecOC keys (secoc_key): Label = b"qkd-secoc secoc key" (19 ASCII bytes),
# Context = cluster_id as 16 bits || epoch as 32 bits, both big-endian, and
# L = 128. For example cluster 0x0102, epoch 7 give the fixed input
#   716b642d7365636f63207365636f63206b6579 | 00 | 0102 00000007 | 00000080
# and CMAC(KI, 00000001 || that) is the key.
from keyagent.crypto.cmac import Cmac

SECOC_LABEL = b"qkd-secoc secoc key"
_MAX_BLOCKS = 64  # 1024 bytes of output is far more than any caller needs


def put32(buf, off, value):
    buf[off] = (value >> 24) & 0xFF
    buf[off + 1] = (value >> 16) & 0xFF
    buf[off + 2] = (value >> 8) & 0xFF
    buf[off + 3] = value & 0xFF


def fixed_input(label, context, l_bits):
    # Label || 0x00 || Context || [L]_32, in a bytearray the caller wipes
    # (the context may hold key material).
    buf = bytearray(len(label) + len(context) + 5)
    n = len(label)
    buf[0:n] = label
    buf[n] = 0
    buf[n + 1 : n + 1 + len(context)] = context
    put32(buf, len(buf) - 4, l_bits)
    return buf


def _wipe(buf):
    for i in range(len(buf)):
        buf[i] = 0


def kdf_counter(key, fixed, out_len):
    # KO of out_len bytes from key (16 bytes) and the whole fixed input, as a
    # bytearray the caller owns and wipes: no immutable copy of key material
    # is left behind here (MicroPython cannot wipe a `bytes`).
    if len(key) != 16:
        raise ValueError("the AES-128-CMAC PRF takes a 16-byte key")
    if not 0 < out_len <= _MAX_BLOCKS * 16:
        raise ValueError("output length out of range")
    prf = Cmac(key)
    n = len(fixed) + 4
    buf = bytearray(((n >> 4) + 1) << 4)  # room for CMAC's in-place padding
    out = bytearray(out_len)
    block = bytearray(16)
    for i in range(1, (out_len + 15) // 16 + 1):
        put32(buf, 0, i)
        buf[4:n] = fixed  # digest_into pads in place, so refill every round
        prf.digest_into(buf, n, block)
        off = (i - 1) * 16
        take = min(16, out_len - off)
        out[off : off + take] = memoryview(block)[0:take]
    prf.zeroise()
    _wipe(block)
    _wipe(buf)
    return out


def derive(key, label, context, out_len):
    fixed = fixed_input(label, context, out_len * 8)
    out = kdf_counter(key, fixed, out_len)
    _wipe(fixed)
    return out


def secoc_context(cluster_id, epoch):
    if not 0 <= cluster_id <= 0xFFFF or not 0 <= epoch <= 0xFFFFFFFF:
        raise ValueError("cluster ID is 16 bits, epoch 32 bits")
    ctx = bytearray(6)
    ctx[0] = cluster_id >> 8
    ctx[1] = cluster_id & 0xFF
    put32(ctx, 2, epoch)
    return bytes(ctx)


def secoc_key(master, cluster_id, epoch):
    # The 16-byte SecOC key of one message cluster in one epoch, from a
    # 16-byte QKD key.
    return derive(master, SECOC_LABEL, secoc_context(cluster_id, epoch), 16)
