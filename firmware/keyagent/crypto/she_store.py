# The receiving side of the SHE key update protocol: a key store with the
# SHE slots that checks M1..M3 before it loads anything and answers M4/M5.
#
# Checks, in the order the SHE specification runs them for CMD_LOAD_KEY:
#   1. lengths, key ID / auth ID pair allowed   -> ERC_GENERAL_ERROR / ERC_KEY_INVALID
#   2. the authorising key is present           -> ERC_KEY_EMPTY
#   3. M3 = CMAC(K2, M1 | M2), constant time    -> ERC_KEY_UPDATE_ERROR
#   4. UID is ours, or the wildcard 0 and the slot's WILDCARD flag is clear
#                                               -> ERC_KEY_UPDATE_ERROR
#   5. the target slot is not write-protected   -> ERC_KEY_WRITE_PROTECTED
#   6. the counter in M2 is strictly greater than the stored one (an empty
#      slot takes any counter)                  -> ERC_KEY_UPDATE_ERROR
# A refusal is a counted rejection (self.rejected[code] += 1), never an
# exception: M1..M3 come from the bus.
#
# Key updates authorised (auth ID for a key ID): MASTER_ECU_KEY by itself;
# BOOT_MAC_KEY and BOOT_MAC by MASTER_ECU_KEY or BOOT_MAC_KEY; KEY_n by
# MASTER_ECU_KEY or KEY_n itself. SECRET_KEY and RAM_KEY are not loadable
# through M1..M3 here (ERC_KEY_INVALID).
from keyagent.crypto import she
from keyagent.crypto.cmac import Cmac
from keyagent.crypto.bufops import ct_equal

_SLOTS = 15


def _auth_allowed(key_id, auth_id):
    if key_id == she.MASTER_ECU_KEY:
        return auth_id == she.MASTER_ECU_KEY
    if key_id == she.BOOT_MAC_KEY or key_id == she.BOOT_MAC:
        return auth_id == she.MASTER_ECU_KEY or auth_id == she.BOOT_MAC_KEY
    if she.KEY_1 <= key_id <= she.KEY_10:
        return auth_id == she.MASTER_ECU_KEY or auth_id == key_id
    return False


class SheKeyStore:
    def __init__(self, uid):
        if len(uid) != she.UID_LEN:
            raise ValueError("UID must be 15 bytes")
        self.uid = bytes(uid)
        self._keys = [None] * _SLOTS
        self._counters = [0] * _SLOTS
        self._flags = [0] * _SLOTS
        self.rejected = {}
        self.loaded = 0
        self.last_error = she.ERC_NO_ERROR

    def provision(self, key_id, key, counter=0, flags=0):
        # Local, trusted set-up (production line): no M1..M3.
        if not 0 <= key_id < _SLOTS:
            raise ValueError("no such key slot")
        if len(key) != 16:
            raise ValueError("SHE keys are 16 bytes")
        if not 0 <= counter <= she.COUNTER_MAX or not 0 <= flags <= 0x1F:
            raise ValueError("counter is 28 bits, flags 5 bits")
        self._store(key_id, key, counter, flags)

    def key(self, key_id):
        # The slot's key (a bytearray the store owns) or None when empty.
        return self._keys[key_id]

    def counter(self, key_id):
        return self._counters[key_id]

    def flags(self, key_id):
        return self._flags[key_id]

    def erase(self, key_id):
        k = self._keys[key_id]
        if k is not None:
            for i in range(16):
                k[i] = 0
        self._keys[key_id] = None
        self._counters[key_id] = 0
        self._flags[key_id] = 0

    def _store(self, key_id, key, counter, flags):
        k = self._keys[key_id]
        if k is None:
            k = bytearray(16)
            self._keys[key_id] = k
        k[0:16] = key  # overwrite in place: the old key leaves no copy
        self._counters[key_id] = counter
        self._flags[key_id] = flags

    def _reject(self, code):
        self.rejected[code] = self.rejected.get(code, 0) + 1
        self.last_error = code
        return code, None, None

    def load_key(self, m1, m2, m3):
        # Returns (ERC code, M4, M5); M4/M5 are None unless the code is
        # ERC_NO_ERROR.
        if len(m1) != 16 or len(m2) != 32 or len(m3) != 16:
            return self._reject(she.ERC_GENERAL_ERROR)
        key_id = m1[15] >> 4
        auth_id = m1[15] & 0x0F
        if not _auth_allowed(key_id, auth_id):
            return self._reject(she.ERC_KEY_INVALID)
        auth_key = self._keys[auth_id]
        if auth_key is None:
            return self._reject(she.ERC_KEY_EMPTY)
        k1 = she.kdf(auth_key, she.KEY_UPDATE_ENC_C)
        k2 = she.kdf(auth_key, she.KEY_UPDATE_MAC_C)
        tag = Cmac(k2).digest(bytes(m1) + bytes(m2))
        if not ct_equal(tag, m3, 16):
            return self._reject(she.ERC_KEY_UPDATE_ERROR)
        uid = bytes(m1[0:15])
        if uid != self.uid:
            wildcard_ok = uid == she.WILDCARD_UID and not (self._flags[key_id] & she.FLAG_WILDCARD)
            if not wildcard_ok:
                return self._reject(she.ERC_KEY_UPDATE_ERROR)
        if self._keys[key_id] is not None and self._flags[key_id] & she.FLAG_WRITE_PROTECTION:
            return self._reject(she.ERC_KEY_WRITE_PROTECTED)
        counter, flags, new_key = she.decrypt_m2(k1, m2)
        if self._keys[key_id] is not None and counter <= self._counters[key_id]:
            for i in range(16):
                new_key[i] = 0
            return self._reject(she.ERC_KEY_UPDATE_ERROR)
        self._store(key_id, new_key, counter, flags)
        k3 = she.kdf(new_key, she.KEY_UPDATE_ENC_C)
        k4 = she.kdf(new_key, she.KEY_UPDATE_MAC_C)
        for i in range(16):
            new_key[i] = 0
        m4 = she.build_m4(self.uid, key_id, auth_id, k3, counter)
        m5 = Cmac(k4).digest(m4)
        self.loaded += 1
        self.last_error = she.ERC_NO_ERROR
        return she.ERC_NO_ERROR, m4, m5
