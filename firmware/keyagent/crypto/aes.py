# The one crypto seam: an AES-128 block cipher in ECB mode.
#
# new(key) returns an object whose encrypt(src, dst) writes the 16-byte
# ciphertext of src into the preallocated buffer dst. CMAC, the KDF and SHE
# are built on this and are the same code on every runtime.
# new_decrypt(key) returns an object whose decrypt(src, dst) is the inverse;
# only the SHE receiving side needs it (to open M2). It is a separate object
# because a cryptolib context cannot switch between encrypting and decrypting.
#
# MicroPython: cryptolib (present when the firmware has SSL support or was
# built with `make firmware`). CPython: the `cryptography` package. Neither:
# the AES written in MicroPython (keyagent.crypto.aes_soft), slower but complete.
# keyagent.features.SOFT_AES (set before the first import) or use_soft(True)
# forces that fallback, so tests and benchmarks can run it where cryptolib exists.
from keyagent import features

BACKEND = None

try:
    import cryptolib

    def _native_new(key):
        return cryptolib.aes(key, 1)  # no bytes copy of the key: it could not be wiped

    _native_new_decrypt = _native_new
    _NATIVE = "cryptolib"
except ImportError:
    try:
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

        class _CryptographyEcb:
            def __init__(self, key):
                self._update = Cipher(algorithms.AES(bytes(key)), modes.ECB()).encryptor().update

            def encrypt(self, src, dst):
                dst[0:16] = self._update(src)

        class _CryptographyEcbDecrypt:
            def __init__(self, key):
                self._update = Cipher(algorithms.AES(bytes(key)), modes.ECB()).decryptor().update

            def decrypt(self, src, dst):
                dst[0:16] = self._update(src)

        def _native_new(key):
            return _CryptographyEcb(key)

        def _native_new_decrypt(key):
            return _CryptographyEcbDecrypt(key)

        _NATIVE = "cryptography"
    except ImportError:
        _native_new = _native_new_decrypt = None
        _NATIVE = None


def use_soft(on):
    # Selects the AES written in MicroPython (on=True) or the native backend
    # for every cipher made from now on. Returns the previous setting, so a
    # caller can put it back. Without a native backend the fallback stays.
    global new, new_decrypt, BACKEND
    was = BACKEND == "aes_soft"
    if on or _native_new is None:
        from keyagent.crypto import aes_soft

        new = aes_soft.new
        new_decrypt = aes_soft.new_decrypt
        BACKEND = "aes_soft"
    else:
        new = _native_new
        new_decrypt = _native_new_decrypt
        BACKEND = _NATIVE
    return was


new = _native_new
new_decrypt = _native_new_decrypt
use_soft(features.SOFT_AES)
