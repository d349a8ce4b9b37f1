# V2I sessions between a vehicle and a roadside unit (RSU), sans-I/O. The
# vehicle's side runs on its telematics unit (CPython: it holds the V2X
# radio and has the memory and the ML-KEM code a gateway MCU lacks); it
# takes the QKD key from the gateway's stock (keyagent.keystore). The RSU
# gets the same key from its KME by ID (the key network relayed it there).
#
# Handshake (docs/key-network.md has the byte layout):
#   HELLO   vehicle -> RSU: vehicle SAE ID, QKD key ID, nonce_v, ML-KEM-768 encapsulation key
#   ACCEPT  RSU -> vehicle: key ID, nonce_r, ML-KEM-768 ciphertext, confirm tag
#   REFUSE  RSU -> vehicle: key ID, reason (no_key, replay, malformed)
# Session keys = HKDF-SHA256(IKM = QKD key || ML-KEM shared secret,
#                            salt = nonce_v || nonce_r, info = LABEL || SHA-256(HELLO || ACCEPT head)),
# 96 bytes: vehicle->RSU key, RSU->vehicle key, confirm key. Knowing only one of
# the two secrets leaves the other one's 256 bits to guess: the session holds
# if either QKD (with the relay's trusted nodes) or ML-KEM holds.
# DATA    either way: key ID | seq u64 | AES-256-GCM(nonce = direction u32 | seq,
#         aad = type | key ID | seq); a 64-frame sliding window refuses replays.
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import mlkem
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

VERSION = 1
HELLO, ACCEPT, REFUSE, DATA = 1, 2, 3, 4
LABEL = b"qkd-secoc v2i session v1"
EK_LEN, CT_LEN, NONCE_LEN, ID_LEN, TAG_LEN = 1184, 1088, 16, 16, 16
REASONS = {1: "no_key", 2: "replay", 3: "malformed"}
REASON_CODES = dict((v, k) for k, v in REASONS.items())
WINDOW = 64
MAX_SEEN = 4096  # handshakes an RSU remembers for replay refusal


class V2IError(Exception):
    """A refused message; .reason is a short code (no_key, replay, bad_tag...)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def session_keys(qkd_key, kem_secret, nonce_v, nonce_r, transcript):
    """(vehicle->RSU key, RSU->vehicle key, confirm key) from both secrets."""
    okm = HKDF(hashes.SHA256(), 96, nonce_v + nonce_r, LABEL + hashlib.sha256(transcript).digest()
               ).derive(bytes(qkd_key) + bytes(kem_secret))
    return okm[0:32], okm[32:64], okm[64:96]


def _head(kind, key_id):
    return bytes((VERSION, kind)) + key_id


class Session:
    """An established session: seal() what to send, open() what arrived."""

    def __init__(self, key_id, send_key, recv_key, send_dir, peer):
        self.key_id = key_id
        self.peer = peer
        self._send = AESGCM(send_key)
        self._recv = AESGCM(recv_key)
        self._send_dir = send_dir
        self._seq = 0
        self._high = -1
        self._seen = 0  # bit i: seq high - i arrived
        self.rejected = {}

    def seal(self, plaintext):
        self._seq += 1
        head = _head(DATA, self.key_id) + self._seq.to_bytes(8, "big")
        nonce = self._send_dir.to_bytes(4, "big") + self._seq.to_bytes(8, "big")
        return head + self._send.encrypt(nonce, bytes(plaintext), head)

    def open(self, message):
        try:
            if len(message) < 2 + ID_LEN + 8 + TAG_LEN or message[0:2] != bytes((VERSION, DATA)) \
                    or message[2:2 + ID_LEN] != self.key_id:
                raise V2IError("malformed")
            seq = int.from_bytes(message[2 + ID_LEN:10 + ID_LEN], "big")
            if self._is_replay(seq):
                raise V2IError("replay")
            nonce = (1 - self._send_dir).to_bytes(4, "big") + seq.to_bytes(8, "big")
            try:
                plain = self._recv.decrypt(nonce, bytes(message[10 + ID_LEN:]), bytes(message[0:10 + ID_LEN]))
            except InvalidTag:
                raise V2IError("bad_tag") from None
        except V2IError as e:
            self.rejected[e.reason] = self.rejected.get(e.reason, 0) + 1
            raise
        self._mark(seq)
        return plain

    def _is_replay(self, seq):
        if seq > self._high:
            return False
        back = self._high - seq
        return back >= WINDOW or (self._seen >> back) & 1

    def _mark(self, seq):
        if seq > self._high:
            self._seen = ((self._seen << (seq - self._high)) | 1) & ((1 << WINDOW) - 1) if self._high >= 0 else 1
            self._high = seq
        else:
            self._seen |= 1 << (self._high - seq)


class VehicleHandshake:
    """The vehicle's side: hello() with a stocked (key ID, QKD key), then
    on_reply(ACCEPT or REFUSE) -> Session, or V2IError."""

    def __init__(self, vehicle_sae, key_id, qkd_key):
        self.vehicle_sae = vehicle_sae.encode()
        self.key_id = bytes(key_id)
        self._qkd_key = bytearray(qkd_key)
        self._dk = mlkem.MLKEM768PrivateKey.generate()
        self._nonce = os.urandom(NONCE_LEN)
        self._hello = None

    def hello(self):
        self._hello = (_head(HELLO, self.key_id) + bytes((len(self.vehicle_sae),)) + self.vehicle_sae
                       + self._nonce + self._dk.public_key().public_bytes_raw())
        return self._hello

    def on_reply(self, reply):
        if len(reply) == 2 + ID_LEN + 1 and reply[0:2] == bytes((VERSION, REFUSE)) and reply[2:18] == self.key_id:
            raise V2IError(REASONS.get(reply[18], "malformed"))
        if len(reply) != 2 + ID_LEN + NONCE_LEN + CT_LEN + TAG_LEN or reply[0:2] != bytes((VERSION, ACCEPT)) \
                or reply[2:18] != self.key_id:
            raise V2IError("malformed")
        nonce_r = reply[18:18 + NONCE_LEN]
        ct = reply[18 + NONCE_LEN:18 + NONCE_LEN + CT_LEN]
        try:
            secret = self._dk.decapsulate(ct)
        except ValueError:
            raise V2IError("malformed") from None
        head = reply[:-TAG_LEN]
        v2r, r2v, confirm = session_keys(self._qkd_key, secret, self._nonce, nonce_r, self._hello + head)
        self._wipe()
        if not hmac.compare_digest(hmac.new(confirm, self._hello + head, "sha256").digest()[0:TAG_LEN],
                                   reply[-TAG_LEN:]):
            raise V2IError("bad_confirm")  # the RSU does not hold this QKD key
        return Session(self.key_id, v2r, r2v, 0, "rsu")

    def _wipe(self):
        for i in range(len(self._qkd_key)):
            self._qkd_key[i] = 0


class RoadsideHandshakes:
    """The RSU's side. fetch_key(vehicle_sae, key_id) -> QKD key or None
    (its KME's dec_keys). on_hello(HELLO) -> (reply bytes, Session or None)."""

    def __init__(self, fetch_key):
        self.fetch_key = fetch_key
        self._seen = set()  # key IDs and vehicle nonces already used
        self._order = []
        self.counters = {"accepted": 0, "no_key": 0, "replay": 0, "malformed": 0}

    def on_hello(self, hello):
        key_id = bytes(hello[2:2 + ID_LEN]) if len(hello) >= 2 + ID_LEN else bytes(ID_LEN)
        parsed = _parse_hello(hello)
        if parsed is None:
            return self._refuse(key_id, "malformed")
        vehicle, nonce_v, ek = parsed
        if key_id in self._seen or nonce_v in self._seen:
            return self._refuse(key_id, "replay")
        try:
            secret, ct = mlkem.MLKEM768PublicKey.from_public_bytes(ek).encapsulate()
        except ValueError:
            return self._refuse(key_id, "malformed")
        qkd_key = self.fetch_key(vehicle, key_id)  # spent at the KME from here on
        if qkd_key is None:
            return self._refuse(key_id, "no_key")
        self._remember(key_id)
        self._remember(nonce_v)
        nonce_r = os.urandom(NONCE_LEN)
        head = _head(ACCEPT, key_id) + nonce_r + ct
        v2r, r2v, confirm = session_keys(qkd_key, secret, nonce_v, nonce_r, bytes(hello) + head)
        tag = hmac.new(confirm, bytes(hello) + head, "sha256").digest()[0:TAG_LEN]
        self.counters["accepted"] += 1
        return head + tag, Session(key_id, r2v, v2r, 1, vehicle)

    def _refuse(self, key_id, reason):
        self.counters[reason] += 1
        return _head(REFUSE, key_id) + bytes((REASON_CODES[reason],)), None

    def _remember(self, item):
        self._seen.add(item)
        self._order.append(item)
        if len(self._order) > MAX_SEEN:
            self._seen.discard(self._order.pop(0))


def _parse_hello(hello):
    # version | HELLO | key ID | len | vehicle SAE | nonce_v | ek
    if len(hello) < 3 + ID_LEN or hello[0:2] != bytes((VERSION, HELLO)):
        return None
    n = hello[2 + ID_LEN]
    at = 3 + ID_LEN + n
    if n == 0 or len(hello) != at + NONCE_LEN + EK_LEN:
        return None
    try:
        vehicle = bytes(hello[3 + ID_LEN:at]).decode("ascii")
    except UnicodeDecodeError:
        return None
    return vehicle, bytes(hello[at:at + NONCE_LEN]), bytes(hello[at + NONCE_LEN:])
