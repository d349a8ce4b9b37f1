# The SHE key update protocol (HIS SHE functional specification v1.1,
# CMD_LOAD_KEY): the sender builds M1..M3 and checks the M4/M5 answer; the
# receiving key store (keyagent.crypto.she_store) checks M1..M3, loads the key and
# answers M4/M5.
#
#   K1 = KDF(AuthKey, KEY_UPDATE_ENC_C)   K2 = KDF(AuthKey, KEY_UPDATE_MAC_C)
#   K3 = KDF(NewKey,  KEY_UPDATE_ENC_C)   K4 = KDF(NewKey,  KEY_UPDATE_MAC_C)
#   M1 = UID(120) | KeyID(4) | AuthID(4)
#   M2 = AES-CBC(K1, IV=0)(Counter(28) | Flags(5) | 0(95) | NewKey(128))
#   M3 = CMAC(K2, M1 | M2)
#   M4 = UID | KeyID | AuthID | AES-ECB(K3)(Counter(28) | 1 | 0(99))
#   M5 = CMAC(K4, M4)
#
# KDF(K, C) is the Miyaguchi-Preneel compression MP(K | C) over AES-128. The
# two constants already end in SHE's padding (0x80 ... and the 40-bit length
# 0xb0 = 176 bits), so K | C is exactly two blocks and MP needs no padding.
# CBC is done here block by block on the ECB seam (keyagent.crypto.aes), so that
# cryptolib keeps no chaining state.
from keyagent.crypto import aes
from keyagent.crypto.cmac import Cmac
from keyagent.crypto.bufops import xor_into, ct_equal
from keyagent.compat import const

KEY_UPDATE_ENC_C = b"\x01\x01SHE\x00\x80" + bytes(8) + b"\xb0"
KEY_UPDATE_MAC_C = b"\x01\x02SHE\x00\x80" + bytes(8) + b"\xb0"

# Key slots (SHE memory slots, the 4-bit key IDs of M1).
SECRET_KEY = const(0)
MASTER_ECU_KEY = const(1)
BOOT_MAC_KEY = const(2)
BOOT_MAC = const(3)
KEY_1 = const(4)
KEY_10 = const(13)
RAM_KEY = const(14)

# The five key flags of M2, most significant first.
FLAG_WRITE_PROTECTION = const(0x10)
FLAG_BOOT_PROTECTION = const(0x08)
FLAG_DEBUGGER_PROTECTION = const(0x04)
FLAG_KEY_USAGE = const(0x02)
# WILDCARD set: the wildcard UID 0 may NOT update this key (as NXP's CSE
# documentation reads the SHE spec; Canis Labs' swshe reads it the other way).
FLAG_WILDCARD = const(0x01)

COUNTER_MAX = const(0x0FFFFFFF)  # 28 bits
UID_LEN = const(15)
WILDCARD_UID = bytes(15)

# SHE error codes (ERC_*), the reasons a key update is refused. SHE names
# them and leaves the numbers to the implementation; these follow the order
# the specification lists them in.
ERC_NO_ERROR = const(0x0)
ERC_SEQUENCE_ERROR = const(0x1)
ERC_KEY_NOT_AVAILABLE = const(0x2)
ERC_KEY_INVALID = const(0x3)
ERC_KEY_EMPTY = const(0x4)
ERC_NO_SECURE_BOOT = const(0x5)
ERC_KEY_WRITE_PROTECTED = const(0x6)
ERC_KEY_UPDATE_ERROR = const(0x7)
ERC_RNG_SEED = const(0x8)
ERC_NO_DEBUGGING = const(0x9)
ERC_BUSY = const(0xA)
ERC_MEMORY_FAILURE = const(0xB)
ERC_GENERAL_ERROR = const(0xC)

ERC_NAMES = {
    0x0: "ERC_NO_ERROR",
    0x1: "ERC_SEQUENCE_ERROR",
    0x2: "ERC_KEY_NOT_AVAILABLE",
    0x3: "ERC_KEY_INVALID",
    0x4: "ERC_KEY_EMPTY",
    0x5: "ERC_NO_SECURE_BOOT",
    0x6: "ERC_KEY_WRITE_PROTECTED",
    0x7: "ERC_KEY_UPDATE_ERROR",
    0x8: "ERC_RNG_SEED",
    0x9: "ERC_NO_DEBUGGING",
    0xA: "ERC_BUSY",
    0xB: "ERC_MEMORY_FAILURE",
    0xC: "ERC_GENERAL_ERROR",
}


def mp_compress(data):
    # Miyaguchi-Preneel: H0 = 0, Hi = E(H(i-1), xi) ^ H(i-1) ^ xi.
    n = len(data)
    if n == 0 or n & 15:
        raise ValueError("MP compression input must be whole 16-byte blocks")
    # No slice or bytes copy of the input (it is key material): a bytearray
    # result the caller may wipe.
    h = bytearray(16)
    out = bytearray(16)
    view = memoryview(data)
    for off in range(0, n, 16):
        aes.new(h).encrypt(view[off : off + 16], out)
        xor_into(out, h, 0, 16)
        xor_into(out, data, off, 16)
        h[:] = out
    for i in range(16):
        out[i] = 0
    return h


def kdf(key, constant):
    buf = bytearray(32)
    buf[0:16] = key
    buf[16:32] = constant
    out = mp_compress(buf)
    for i in range(32):
        buf[i] = 0
    return out


def derive_keys(auth_key, new_key):
    # Returns (K1, K2, K3, K4).
    return (
        kdf(auth_key, KEY_UPDATE_ENC_C),
        kdf(auth_key, KEY_UPDATE_MAC_C),
        kdf(new_key, KEY_UPDATE_ENC_C),
        kdf(new_key, KEY_UPDATE_MAC_C),
    )


def _check_args(uid, key_id, auth_id, counter, flags):
    if len(uid) != UID_LEN:
        raise ValueError("UID must be 15 bytes")
    if not (0 <= key_id <= 15 and 0 <= auth_id <= 15):
        raise ValueError("key ID and auth ID are 4 bits")
    if not 0 <= counter <= COUNTER_MAX:
        raise ValueError("counter is 28 bits")
    if not 0 <= flags <= 0x1F:
        raise ValueError("flags are 5 bits")


def build_m1(uid, key_id, auth_id):
    return bytes(uid) + bytes(((key_id << 4) | auth_id,))


def _counter_block(counter, low_bits):
    # Counter(28) followed by 5 bits (flags in M2) or by 1 and 4 zero bits
    # (M4): 28 + 5 bits = the first 33 bits of the block, the rest zero.
    block = bytearray(16)
    word = (counter << 4) | (low_bits >> 1)
    block[0] = (word >> 24) & 0xFF
    block[1] = (word >> 16) & 0xFF
    block[2] = (word >> 8) & 0xFF
    block[3] = word & 0xFF
    block[4] = (low_bits & 1) << 7
    return block


def encrypt_m2(k1, counter, flags, new_key):
    # AES-CBC with IV = 0 on the ECB seam: C0 = E(P0), C1 = E(P1 ^ C0).
    enc = aes.new(k1).encrypt
    out = bytearray(32)
    block = _counter_block(counter, flags)
    c = bytearray(16)
    enc(block, c)
    out[0:16] = c
    block[:] = new_key
    xor_into(block, c, 0, 16)
    enc(block, c)
    out[16:32] = c
    return bytes(out)


def decrypt_m2(k1, m2):
    # Inverse of encrypt_m2: returns (counter, flags, new_key bytearray).
    dec = aes.new_decrypt(k1).decrypt
    p = bytearray(16)
    dec(m2[0:16], p)
    counter = (p[0] << 20) | (p[1] << 12) | (p[2] << 4) | (p[3] >> 4)
    flags = ((p[3] & 0x0F) << 1) | (p[4] >> 7)
    key = bytearray(16)
    dec(m2[16:32], key)
    xor_into(key, m2, 0, 16)
    return counter, flags, key


def build_m4(uid, key_id, auth_id, k3, counter):
    out = bytearray(32)
    out[0:16] = build_m1(uid, key_id, auth_id)
    c = bytearray(16)
    aes.new(k3).encrypt(_counter_block(counter, 0x10), c)
    out[16:32] = c
    return bytes(out)


def update_messages(uid, key_id, auth_id, auth_key, new_key, counter, flags):
    # The sender's side: returns (M1, M2, M3, M4, M5); M4 and M5 are what a
    # receiver with this UID must answer.
    _check_args(uid, key_id, auth_id, counter, flags)
    if len(auth_key) != 16 or len(new_key) != 16:
        raise ValueError("SHE keys are 16 bytes")
    k1, k2, k3, k4 = derive_keys(auth_key, new_key)
    m1 = build_m1(uid, key_id, auth_id)
    m2 = encrypt_m2(k1, counter, flags, new_key)
    m3 = Cmac(k2).digest(m1 + m2)
    m4 = build_m4(uid, key_id, auth_id, k3, counter)
    m5 = Cmac(k4).digest(m4)
    return m1, m2, m3, m4, m5


class KeyUpdate:
    # One key update as the sender sees it: M1..M3 to send, and the M5 the
    # receiver must answer. The sender names the receiver's UID, so M4 (UID,
    # IDs, the counter under K3) holds nothing it does not know, and M5 =
    # CMAC(K4, M4) alone proves the receiver loaded exactly this key, for this
    # UID, slot and counter. With the wildcard UID only the receiver's M4
    # would say who loaded it: not supported here.

    def __init__(self, uid, key_id, auth_id, auth_key, new_key, counter, flags):
        if bytes(uid) == WILDCARD_UID:
            raise ValueError("a key update checked by M5 names its receiver's UID")
        m = update_messages(uid, key_id, auth_id, auth_key, new_key, counter, flags)
        self.m1, self.m2, self.m3 = m[0], m[1], m[2]
        self._m5 = m[4]

    def check_m5(self, m5):
        # Never raises on what the peer sent.
        return len(m5) == 16 and ct_equal(m5, self._m5, 16)
