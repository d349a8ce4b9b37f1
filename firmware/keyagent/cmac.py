# AES-128-CMAC (NIST SP 800-38B, RFC 4493) over the keyagent.aes seam.
#
# Cmac keeps its subkeys and scratch buffers preallocated so that the
# per-frame path (digest_into) allocates nothing on MicroPython.
from keyagent import aes
from keyagent.bufops import xor_into, ct_equal

_RB = 0x87  # the constant R_128 of SP 800-38B


def _double(src, dst):
    # dst = src << 1 in GF(2^128), the subkey step of SP 800-38B 6.1.
    carry = 0
    for i in range(15, -1, -1):
        b = src[i]
        dst[i] = ((b << 1) | carry) & 0xFF
        carry = b >> 7
    if src[0] & 0x80:
        dst[15] ^= _RB


class Cmac:
    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("AES-128 key must be 16 bytes")
        self._enc = aes.new(key).encrypt
        self.k1 = bytearray(16)
        self.k2 = bytearray(16)
        self._x = bytearray(16)
        self._enc(bytes(16), self._x)
        _double(self._x, self.k1)
        _double(self.k1, self.k2)

    def digest_into(self, msg, n, out):
        # Writes the 16-byte tag of msg[0:n] into out. msg must be a buffer
        # with room for n rounded up to 16 bytes: the last block is padded in
        # place (this is what lets the frame path run without allocating).
        x = self._x
        enc = self._enc
        for i in range(16):
            x[i] = 0
        full = n >> 4
        rem = n & 15
        if rem == 0 and full > 0:
            full -= 1
            rem = 16
        else:
            msg[n] = 0x80
            for i in range(n + 1, (full << 4) + 16):
                msg[i] = 0
        off = 0
        for _ in range(full):
            xor_into(x, msg, off, 16)
            enc(x, x)
            off += 16
        xor_into(x, msg, off, 16)
        xor_into(x, self.k1 if rem == 16 else self.k2, 0, 16)
        enc(x, out)

    def digest(self, msg):
        # Convenience for the non-hot paths: copies msg, returns 16 bytes.
        n = len(msg)
        buf = bytearray(((n >> 4) + 1) << 4)
        buf[0:n] = msg
        out = bytearray(16)
        self.digest_into(buf, n, out)
        return bytes(out)

    def verify(self, msg, tag):
        # Constant-time check of a (possibly truncated) tag.
        return ct_equal(self.digest(msg), tag, len(tag))

    def zeroise(self):
        for buf in (self.k1, self.k2, self._x):
            for i in range(16):
                buf[i] = 0
        self._enc = None


def aes_cmac(key, msg):
    return Cmac(key).digest(msg)
