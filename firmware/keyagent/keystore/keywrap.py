# AES key wrap (RFC 3394, NIST SP 800-38F "KW") with a 128-bit KEK over the
# keyagent.crypto.aes seam: seals key material under the device key so that
# the flash image holds no key in clear and any change to a wrapped record
# is detected (the integrity check value A must come back as A6A6A6A6A6A6A6A6).
#
#   wrap:   A = IV; for j = 0..5, i = 1..n:
#           B = AES(K, A | R[i]); A = MSB64(B) ^ t (t = n*j + i); R[i] = LSB64(B)
#   unwrap: the same steps backwards with AES^-1.
#
# KeyWrap keeps its two block buffers; wrap_into/unwrap_into write into the
# caller's buffer (taking a key is not on the per-frame path, so the 8-byte
# slices they copy through are fine).
from keyagent.crypto import aes
from keyagent.crypto.bufops import ct_equal

IV = b"\xa6\xa6\xa6\xa6\xa6\xa6\xa6\xa6"


class UnwrapError(ValueError):
    """The wrapped data was changed, or wrapped under another key."""


def _xor_t(buf, t):
    # buf[0:8] ^= t as a 64-bit big-endian integer
    i = 7
    while t:
        buf[i] ^= t & 0xFF
        t >>= 8
        i -= 1


class KeyWrap:
    def __init__(self, kek):
        if len(kek) != 16:
            raise ValueError("the KEK must be 16 bytes (AES-128)")
        self._enc = aes.new(kek).encrypt
        self._dec = aes.new_decrypt(kek).decrypt
        self._b = bytearray(16)
        self._out = bytearray(16)

    def wrap_into(self, plain, n_bytes, out):
        # out[0:n_bytes+8] = wrap(plain[0:n_bytes]); n_bytes a multiple of 8, >= 16.
        n = _blocks(n_bytes)
        out[8 : 8 + n_bytes] = plain[0:n_bytes]
        a = self._b
        a[0:8] = IV
        r = self._out
        for j in range(6):
            for i in range(1, n + 1):
                a[8:16] = out[8 * i : 8 * i + 8]
                self._enc(a, r)
                a[0:8] = r[0:8]
                _xor_t(a, n * j + i)
                out[8 * i : 8 * i + 8] = r[8:16]
        out[0:8] = a[0:8]

    def unwrap_into(self, wrapped, n_bytes, out):
        # out[0:n_bytes-8] = unwrap(wrapped[0:n_bytes]); UnwrapError if the
        # check value is wrong (out is then zeroed).
        n = _blocks(n_bytes - 8)
        a = self._b
        a[0:8] = wrapped[0:8]
        out[0 : n_bytes - 8] = wrapped[8:n_bytes]
        r = self._out
        for j in range(5, -1, -1):
            for i in range(n, 0, -1):
                _xor_t(a, n * j + i)
                a[8:16] = out[8 * (i - 1) : 8 * i]
                self._dec(a, r)
                a[0:8] = r[0:8]
                out[8 * (i - 1) : 8 * i] = r[8:16]
        if not ct_equal(a, IV, 8):
            for i in range(n_bytes - 8):
                out[i] = 0
            raise UnwrapError("key wrap integrity check failed")

    def wrap(self, plain):
        out = bytearray(len(plain) + 8)
        self.wrap_into(plain, len(plain), out)
        return bytes(out)

    def unwrap(self, wrapped):
        out = bytearray(len(wrapped) - 8)
        self.unwrap_into(wrapped, len(wrapped), out)
        return bytes(out)


def _blocks(n_bytes):
    if n_bytes % 8 or n_bytes < 16:
        raise ValueError("key wrap takes a multiple of 8 bytes, at least 16")
    return n_bytes >> 3
