# AES-128 (FIPS-197) written in MicroPython, for firmware built without
# cryptolib. Same seam as keyagent.crypto.aes: new(key) returns an object whose
# encrypt(src, dst) writes the 16-byte ciphertext of src into dst, and
# new_decrypt(key) one whose decrypt(src, dst) inverts it (plain Python only:
# SHE opens a few blocks per key update, never per frame).
#
# Byte-oriented on purpose: every value stays below 256, so no operation
# creates a heap integer on a 32-bit MCU. The S-box and the GF(2^8)
# doubling table are computed once into one shared bytearray; each key gets
# its expanded schedule and two 16-byte scratch states, so encrypting a block
# allocates nothing. keyagent.crypto.aes_soft_viper runs the same rounds under the
# viper emitter when keyagent.features.NATIVE is on.
from keyagent import features
from keyagent.compat import const

_SBOX = const(0)  # offset of the S-box in TABLES
_X2 = const(256)  # offset of the doubling table (multiply by 2 in GF(2^8))
_SHIFT = const(512)  # offset of the ShiftRows gather indices
_RK_LEN = const(176)  # 11 round keys of 16 bytes
_CTX_LEN = const(208)  # round keys + state + scratch

# ShiftRows as a gather: after the step, byte i of the column-major state is
# byte SHIFT[i] of the state before it.
SHIFT = b"\x00\x05\x0a\x0f\x04\x09\x0e\x03\x08\x0d\x02\x07\x0c\x01\x06\x0b"


def _tables():
    # S-box by the generator method: p walks GF(2^8)* by multiplying by 3,
    # q by dividing by 3, so q is the inverse of p; then the affine map.
    t = bytearray(528)
    p = q = 1
    while True:
        p = p ^ ((p << 1) & 0xFF) ^ (0x1B if p & 0x80 else 0)
        q ^= q << 1
        q ^= q << 2
        q ^= q << 4
        q &= 0xFF
        if q & 0x80:
            q ^= 0x09
        r = q ^ (((q << 1) | (q >> 7)) & 0xFF) ^ (((q << 2) | (q >> 6)) & 0xFF)
        r ^= (((q << 3) | (q >> 5)) & 0xFF) ^ (((q << 4) | (q >> 4)) & 0xFF)
        t[_SBOX + p] = r ^ 0x63
        if p == 1:
            break
    t[_SBOX] = 0x63
    for i in range(256):
        t[_X2 + i] = ((i << 1) ^ (0x1B if i & 0x80 else 0)) & 0xFF
    t[_SHIFT : _SHIFT + 16] = SHIFT
    return t


TABLES = _tables()


def expand_key(key, ctx):
    # FIPS-197 section 5.2 into ctx[0:176]. Not on the per-frame path.
    if len(key) != 16:
        raise ValueError("AES-128 key must be 16 bytes")
    ctx[0:16] = key
    rcon = 1
    for i in range(16, _RK_LEN, 4):
        a, b, c, d = ctx[i - 4], ctx[i - 3], ctx[i - 2], ctx[i - 1]
        if i & 15 == 0:
            a, b, c, d = TABLES[b] ^ rcon, TABLES[c], TABLES[d], TABLES[a]
            rcon = TABLES[_X2 + rcon]
        ctx[i] = ctx[i - 16] ^ a
        ctx[i + 1] = ctx[i - 15] ^ b
        ctx[i + 2] = ctx[i - 14] ^ c
        ctx[i + 3] = ctx[i - 13] ^ d


def encrypt_block(tab, ctx, src, dst):
    # One block; the layout of ctx is [round keys 176 | state 16 | scratch 16].
    s = 176
    t = 192
    for i in range(16):
        ctx[s + i] = src[i] ^ ctx[i]
    rk = 16
    for _ in range(9):
        for i in range(16):  # SubBytes and ShiftRows into the scratch state
            ctx[t + i] = tab[ctx[s + SHIFT[i]]]
        for c in range(t, t + 16, 4):  # MixColumns and AddRoundKey
            a0 = ctx[c]
            a1 = ctx[c + 1]
            a2 = ctx[c + 2]
            a3 = ctx[c + 3]
            e = a0 ^ a1 ^ a2 ^ a3
            o = c - 16
            ctx[o] = a0 ^ e ^ tab[_X2 + (a0 ^ a1)] ^ ctx[rk]
            ctx[o + 1] = a1 ^ e ^ tab[_X2 + (a1 ^ a2)] ^ ctx[rk + 1]
            ctx[o + 2] = a2 ^ e ^ tab[_X2 + (a2 ^ a3)] ^ ctx[rk + 2]
            ctx[o + 3] = a3 ^ e ^ tab[_X2 + (a3 ^ a0)] ^ ctx[rk + 3]
            rk += 4
    for i in range(16):  # last round: no MixColumns
        dst[i] = tab[ctx[s + SHIFT[i]]] ^ ctx[160 + i]


class SoftAes:
    # The plain implementation; ViperAes below only swaps the rounds.
    def __init__(self, key):
        self._ctx = bytearray(_CTX_LEN)
        expand_key(key, self._ctx)

    def encrypt(self, src, dst):
        encrypt_block(TABLES, self._ctx, src, dst)

    def zeroise(self):
        ctx = self._ctx
        for i in range(_CTX_LEN):
            ctx[i] = 0


# The inverse cipher's S-box, made on the first new_decrypt(): firmware that
# only encrypts never spends the 256 bytes.
_INV = None
# InvShiftRows as a gather, like SHIFT.
INV_SHIFT = b"\x00\x0d\x0a\x07\x04\x01\x0e\x0b\x08\x05\x02\x0f\x0c\x09\x06\x03"


def _inverse_tables():
    global _INV
    if _INV is None:
        inv = bytearray(256)
        for i in range(256):
            inv[TABLES[i]] = i
        _INV = inv
    return _INV


def decrypt_block(tab, inv, ctx, src, dst):
    # FIPS-197 section 5.3, the straightforward inverse cipher. InvMixColumns
    # is MixColumns after a pre-step: a0 ^= 4(a0^a2), a1 ^= 4(a1^a3), ...
    s = 176
    t = 192
    for i in range(16):
        ctx[s + i] = src[i] ^ ctx[160 + i]
    for r in range(144, 0, -16):
        for i in range(16):  # InvShiftRows, InvSubBytes, AddRoundKey
            ctx[t + i] = inv[ctx[s + INV_SHIFT[i]]] ^ ctx[r + i]
        for c in range(t, t + 16, 4):
            a0 = ctx[c]
            a1 = ctx[c + 1]
            a2 = ctx[c + 2]
            a3 = ctx[c + 3]
            u = tab[_X2 + tab[_X2 + (a0 ^ a2)]]
            v = tab[_X2 + tab[_X2 + (a1 ^ a3)]]
            a0 ^= u
            a1 ^= v
            a2 ^= u
            a3 ^= v
            e = a0 ^ a1 ^ a2 ^ a3
            o = c - 16
            ctx[o] = a0 ^ e ^ tab[_X2 + (a0 ^ a1)]
            ctx[o + 1] = a1 ^ e ^ tab[_X2 + (a1 ^ a2)]
            ctx[o + 2] = a2 ^ e ^ tab[_X2 + (a2 ^ a3)]
            ctx[o + 3] = a3 ^ e ^ tab[_X2 + (a3 ^ a0)]
    for i in range(16):
        dst[i] = inv[ctx[s + INV_SHIFT[i]]] ^ ctx[i]


class SoftAesDecrypt(SoftAes):
    def __init__(self, key):
        super().__init__(key)
        self._inv = _inverse_tables()

    def decrypt(self, src, dst):
        decrypt_block(TABLES, self._inv, self._ctx, src, dst)


def viper_impl():
    # SoftAes with the rounds compiled by the viper emitter, or None on
    # CPython and on MicroPython builds without viper.
    try:
        from keyagent.crypto.aes_soft_viper import encrypt_block
    except (ImportError, SyntaxError, NameError):
        return None

    class ViperAes(SoftAes):
        def encrypt(self, src, dst):
            encrypt_block(TABLES, self._ctx, src, dst)

    return ViperAes


IMPL = (features.NATIVE and viper_impl()) or SoftAes


def new(key):
    return IMPL(key)


def new_decrypt(key):
    return SoftAesDecrypt(key)
