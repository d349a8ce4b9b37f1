# SecurityAccess (UDS 0x27) level 1, sans-I/O (docs/ota.md, "SecurityAccess").
#
# requestSeed gives 16 fresh random bytes; the key is AES-CMAC(K_diag, seed)
# with K_diag = KDF(K_auth, "qkd-secoc diag key", [node]_16): the ECU's
# long-term authentication key, not the epoch key, so that a workshop can
# unlock an ECU that has no epoch (a broken optical link is a reason to
# update), and so that a seed/key pair seen on the bus says nothing about
# the SecOC keys. After max_attempts wrong keys every request is refused
# for lockout_ms. The count of wrong keys is kept in the agent's storage
# (flash on a board), so that a reset does not clear it: an ECU that
# boots with the count used up starts with the lock-out running.
from keyagent.crypto.cmac import Cmac
from keyagent.crypto.kdf import derive

DIAG_LABEL = b"qkd-secoc diag key"
SEED_LEN = 16
OK = 0
NRC_SEQUENCE = 0x24
NRC_INVALID_KEY = 0x35
NRC_EXCEEDED = 0x36
NRC_DELAY = 0x37
_STORED = "sa_failures"  # the storage name of the count of wrong keys


def diag_key(k_auth, node):
    return derive(bytes(k_auth), DIAG_LABEL, bytes(((node >> 8) & 0xFF, node & 0xFF)), 16)


class SecurityAccess:
    # random_bytes(n): the caller's random source (os.urandom on a board).
    # storage: get(name, default) / put(name, value), or None (RAM only).
    def __init__(self, k_diag, random_bytes, max_attempts=3, lockout_ms=10000, storage=None):
        self._mac = Cmac(k_diag)
        self._random = random_bytes
        self.max_attempts = max_attempts
        self.lockout_ms = lockout_ms
        self.storage = storage
        self.unlocked = False
        self._seed = None
        self._failures = storage.get(_STORED, 0) if storage is not None else 0
        self._locked_until = None
        self._boot_locked = self._failures >= max_attempts  # runs from the first request
        self.rejected = {}

    def _count(self, nrc):
        self.rejected[nrc] = self.rejected.get(nrc, 0) + 1
        return nrc

    def _set_failures(self, n):
        self._failures = n
        if self.storage is not None:
            self.storage.put(_STORED, n)

    def _delay_running(self, now):
        if self._boot_locked:
            self._boot_locked = False
            self._locked_until = now + self.lockout_ms
        if self._locked_until is None:
            return False
        if now >= self._locked_until:
            self._locked_until = None
            self._set_failures(0)
            return False
        return True

    def request_seed(self, now):
        # (NRC or OK, seed). An unlocked ECU answers with an all-zero seed.
        if self._delay_running(now):
            return self._count(NRC_DELAY), None
        if self.unlocked:
            return OK, bytes(SEED_LEN)
        self._seed = bytes(self._random(SEED_LEN))
        return OK, self._seed

    def send_key(self, key, now):
        if self._delay_running(now):
            return self._count(NRC_DELAY)
        seed = self._seed
        if seed is None:
            return self._count(NRC_SEQUENCE)
        self._seed = None  # one key per seed: a new try needs a new seed
        if len(key) == SEED_LEN and self._mac.verify(seed, key):
            self.unlocked = True
            self._set_failures(0)
            return OK
        self._set_failures(self._failures + 1)
        if self._failures >= self.max_attempts:
            self._locked_until = now + self.lockout_ms
            return self._count(NRC_EXCEEDED)
        return self._count(NRC_INVALID_KEY)

    def lock(self):
        self.unlocked = False
        self._seed = None
