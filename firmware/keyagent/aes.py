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
# the AES written in MicroPython (keyagent.aes_soft), slower but complete.

BACKEND = None

try:
    import cryptolib

    def new(key):
        return cryptolib.aes(bytes(key), 1)

    def new_decrypt(key):
        return cryptolib.aes(bytes(key), 1)

    BACKEND = "cryptolib"
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

        def new(key):
            return _CryptographyEcb(key)

        def new_decrypt(key):
            return _CryptographyEcbDecrypt(key)

        BACKEND = "cryptography"
    except ImportError:
        from keyagent.aes_soft import new, new_decrypt

        BACKEND = "aes_soft"
