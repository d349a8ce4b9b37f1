# AES-128-CMAC (NIST SP 800-38B, RFC 4493) over the keyagent.crypto.aes seam.
#
# Cmac keeps its subkeys (K1 || K2 in one 32-byte buffer) and scratch
# buffers preallocated so that digest_into allocates nothing on MicroPython.
# The block chaining itself is keyagent.secoc.frame_mac.cmac_into (SecOC's
# per-frame viper path has its own copy of it, inside mac_frame).
from keyagent.crypto import aes
from keyagent.crypto.bufops import ct_equal
from keyagent.secoc.frame_mac import cmac_into

_RB = 0x87  # the constant R_128 of SP 800-38B


def _double(src, soff, dst, doff):
    # dst = src << 1 in GF(2^128), the subkey step of SP 800-38B 6.1.
    carry = 0
    for i in range(15, -1, -1):
        b = src[soff + i]
        dst[doff + i] = ((b << 1) | carry) & 0xFF
        carry = b >> 7
    if src[soff] & 0x80:
        dst[doff + 15] ^= _RB


class Cmac:
    def __init__(self, key):
        if len(key) != 16:
            raise ValueError("AES-128 key must be 16 bytes")
        self._cipher = aes.new(key)
        self.enc = self._cipher.encrypt
        self.sub = bytearray(32)  # K1 || K2
        self._x = bytearray(16)
        self.enc(bytes(16), self._x)
        _double(self._x, 0, self.sub, 0)
        _double(self.sub, 0, self.sub, 16)

    def digest_into(self, msg, n, out):
        # Writes the 16-byte tag of msg[0:n] into out. msg must have room for
        # n rounded up to a whole block: the last block is padded in place.
        cmac_into(self.enc, self.sub, msg, 0, n, self._x, out)

    def digest(self, msg):
        # For the paths that are not per frame: copies msg, returns 16 bytes.
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
        # The subkeys are ours to wipe, and so is the key schedule of the AES
        # written in MicroPython; cryptolib's and cryptography's we can only drop.
        for i in range(32):
            self.sub[i] = 0
        for i in range(16):
            self._x[i] = 0
        if hasattr(self._cipher, "zeroise"):
            self._cipher.zeroise()
        self._cipher = self.enc = None


def aes_cmac(key, msg):
    return Cmac(key).digest(msg)
