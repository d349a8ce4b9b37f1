# Random bytes for a build without os.urandom (the STM32F446 has no RNG
# peripheral): the SP 800-108 KDF (keyagent.crypto.kdf) under a key derived
# from the ECU's provisioned secret, over the boot count (persisted, one up at
# every start) and a count of this boot's calls. What the rekey protocol's
# JOIN nonces need is never to repeat across boots: this output does not
# while the storage keeps the boot count, and nobody without the secret can
# predict it. It adds no entropy; a board with an RNG uses that.
from keyagent.crypto import kdf

_KEY_LABEL = b"qkd-secoc random key"
_LABEL = b"qkd-secoc random"


class KeyedRandom:
    def __init__(self, secret, storage):
        # A key of its own, used for nothing else.
        self._key = kdf.derive(secret, _KEY_LABEL, b"", 16)
        self.boot = (storage.get("random_boot", 0) or 0) + 1
        storage.put("random_boot", self.boot)  # before any output of this boot
        self._calls = 0

    def __call__(self, n):
        self._calls += 1
        context = bytearray(8)
        kdf.put32(context, 0, self.boot)
        kdf.put32(context, 4, self._calls)
        return bytes(kdf.derive(self._key, _LABEL, context, n))
