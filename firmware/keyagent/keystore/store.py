# The gateway's stock of QKD keys for the road, sans-I/O: filled at the
# depot (through ETSI GS QKD 014, the vehicle being an SAE), each key tagged
# with the peer it is shared with (a roadside unit's or a zone's SAE ID, or
# "secoc" for the vehicle's own SecOC epochs), taken once, counted, and a
# low-stock event when a peer's stock runs down.
#
# Keys never sit in clear, not even in RAM: each slot holds its key wrapped
# (RFC 3394, keywrap.KeyWrap) under a key-encryption key derived from the
# device key, and take() unwraps one. A taken slot is zeroed, so an old flash
# image cannot bring it back without failing the image's CMAC (and the wrap
# check of the zeroed slot). The caller persists image() after every take,
# before it uses the key, and loads it back with KeyStore.load().
#
# image(): b"QKS1" | capacity u16 | low_water u16 | added u32 | taken u32 |
#          peer count u8 | per peer: length u8, name |
#          capacity slots of: key ID (16) | peer index u8 (0xFF: empty) |
#                             wrap(key ID | peer index | 7 zero bytes | key (32)) (64) |
#          AES-CMAC of all that under the MAC key (16)
# KEK = AES(device key, "qkd-secoc kek\0\0\0"), MAC key = AES(device key, "qkd-secoc mac\0\0\0").
from keyagent.compat import const
from keyagent.crypto import aes
from keyagent.crypto.bufops import ct_equal
from keyagent.crypto.cmac import Cmac
from keyagent.keystore.keywrap import KeyWrap, UnwrapError

MAGIC = b"QKS1"
KEY_LEN = const(32)
ID_LEN = const(16)
MAX_PEERS = const(16)
MAX_EVENTS = const(8)
_EMPTY = const(0xFF)
_PLAIN = const(56)  # ID_LEN + 1 + 7 + KEY_LEN
_WRAPPED = const(64)
_SLOT = const(81)  # ID_LEN + 1 + _WRAPPED


class StoreCorrupt(ValueError):
    """An image that fails its CMAC or its layout: changed, or another device's."""


def _derive(device_key, label):
    out = bytearray(16)
    aes.new(device_key).encrypt(label + bytes(16 - len(label)), out)
    return out


class KeyStore:
    def __init__(self, device_key, capacity=64, low_water=4):
        if len(device_key) != 16:
            raise ValueError("the device key must be 16 bytes")
        if not 1 <= capacity <= 4096 or not 0 <= low_water <= capacity:
            raise ValueError("capacity 1..4096, low_water 0..capacity")
        self.capacity = capacity
        self.low_water = low_water
        self._wrap = KeyWrap(_derive(device_key, b"qkd-secoc kek"))
        self._mac = Cmac(_derive(device_key, b"qkd-secoc mac"))
        self.peers = []  # peer names (str), index = slot tag
        self._slots = bytearray(capacity * _SLOT)
        for i in range(capacity):
            self._slots[i * _SLOT + ID_LEN] = _EMPTY
        self._plain = bytearray(_PLAIN)
        self.counters = {"added": 0, "taken": 0, "empty": 0, "corrupt": 0}
        self.events = []  # ("low_stock", peer, keys left), oldest first

    # -- filling (at the depot) ----------------------------------------------------

    def add(self, peer, key_id, key):
        """Stock one key shared with `peer`; returns False when the store is full."""
        if len(key_id) != ID_LEN or len(key) != KEY_LEN or not isinstance(peer, str):
            raise ValueError("a stocked key is 32 bytes under a 16-byte key ID")
        tag = self._peer_index(peer)
        s = self._slots
        for i in range(self.capacity):
            at = i * _SLOT
            if s[at + ID_LEN] == _EMPTY:
                p = self._plain
                p[0:ID_LEN] = key_id
                for j in range(ID_LEN, ID_LEN + 8):
                    p[j] = 0
                p[ID_LEN] = tag
                p[ID_LEN + 8 : _PLAIN] = key
                s[at : at + ID_LEN] = key_id
                s[at + ID_LEN] = tag
                self._wrap.wrap_into(p, _PLAIN, memoryview(s)[at + ID_LEN + 1 : at + _SLOT])
                _zero(p, 0, _PLAIN)
                self.counters["added"] += 1
                return True
        return False

    # -- taking (on the road) ------------------------------------------------------

    def count(self, peer=None):
        """Keys left for `peer` (None: in all)."""
        tag = -1 if peer is None else (self.peers.index(peer) if peer in self.peers else -2)
        n = 0
        s = self._slots
        for i in range(self.capacity):
            t = s[i * _SLOT + ID_LEN]
            if t != _EMPTY and (tag == -1 or t == tag):
                n += 1
        return n

    def take(self, peer, key_id=None):
        """(key ID, key as a bytearray the caller zeroises) of a key shared
        with `peer` (the one under key_id if given), removed from the stock;
        None if there is none. Persist image() before using the key."""
        if peer not in self.peers:
            self.counters["empty"] += 1
            return None
        tag = self.peers.index(peer)
        s = self._slots
        for i in range(self.capacity):
            at = i * _SLOT
            if s[at + ID_LEN] != tag or (key_id is not None and not _id_at(s, at, key_id)):
                continue
            out = self._unwrap_slot(at, tag)
            _zero(s, at, at + _SLOT)
            s[at + ID_LEN] = _EMPTY
            if out is None:
                continue  # a corrupt slot is dropped, counted, and the search goes on
            self.counters["taken"] += 1
            left = self.count(peer)
            if left <= self.low_water:
                self._event(("low_stock", peer, left))
            return out
        self.counters["empty"] += 1
        return None

    def pop_event(self):
        return self.events.pop(0) if self.events else None

    # -- persistence -------------------------------------------------------------------

    def image(self):
        head = bytearray(MAGIC)
        head += _u16(self.capacity) + _u16(self.low_water)
        head += _u32(self.counters["added"]) + _u32(self.counters["taken"])
        head.append(len(self.peers))
        for name in self.peers:
            raw = name.encode()
            head.append(len(raw))
            head += raw
        body = head + self._slots
        return bytes(body + self._mac.digest(body))

    @classmethod
    def load(cls, device_key, image):
        """The store an image() saved; StoreCorrupt if it was changed."""
        try:
            if len(image) < 31 or image[0:4] != MAGIC:
                raise StoreCorrupt("not a key store image")
            store = cls(device_key, _get16(image, 4), _get16(image, 6))
            if not store._mac.verify(image[:-16], image[-16:]):
                raise StoreCorrupt("key store image fails its CMAC (changed, or another device's)")
            at = 17
            for _ in range(image[16]):
                n = image[at]
                store.peers.append(bytes(image[at + 1 : at + 1 + n]).decode())
                at += 1 + n
            if len(image) - at - 16 != store.capacity * _SLOT:
                raise StoreCorrupt("key store image has the wrong length")
            store._slots[:] = image[at : at + store.capacity * _SLOT]
            store.counters["added"] = _get32(image, 8)
            store.counters["taken"] = _get32(image, 12)
            return store
        except (IndexError, UnicodeError, ValueError) as e:
            if isinstance(e, StoreCorrupt):
                raise
            raise StoreCorrupt("key store image is malformed") from None

    # -- internals ---------------------------------------------------------------------

    def _peer_index(self, peer):
        if peer in self.peers:
            return self.peers.index(peer)
        raw = peer.encode()
        if not 1 <= len(raw) <= 64:
            raise ValueError("a peer name is 1-64 bytes")
        if len(self.peers) >= MAX_PEERS:
            raise ValueError("at most %d peers" % MAX_PEERS)
        self.peers.append(peer)
        return len(self.peers) - 1

    def _unwrap_slot(self, at, tag):
        p = self._plain
        s = self._slots
        try:
            self._wrap.unwrap_into(memoryview(s)[at + ID_LEN + 1 : at + _SLOT], _WRAPPED, p)
        except UnwrapError:
            self.counters["corrupt"] += 1
            return None
        # The wrapped copy of the key ID and tag must match the clear ones:
        # a slot moved to another key ID or peer is caught here.
        ok = ct_equal(p, memoryview(s)[at : at + ID_LEN], ID_LEN) and p[ID_LEN] == tag
        key = bytearray(p[ID_LEN + 8 : _PLAIN])
        key_id = bytes(p[0:ID_LEN])
        _zero(p, 0, _PLAIN)
        if not ok:
            _zero(key, 0, KEY_LEN)
            self.counters["corrupt"] += 1
            return None
        return key_id, key

    def _event(self, event):
        self.events.append(event)
        if len(self.events) > MAX_EVENTS:
            self.events.pop(0)


def _id_at(s, at, key_id):
    # Key IDs are public (they travel in clear): a plain comparison will do.
    for i in range(ID_LEN):
        if s[at + i] != key_id[i]:
            return False
    return True


def _zero(buf, start, end):
    for i in range(start, end):
        buf[i] = 0


def _u16(v):
    return bytes(((v >> 8) & 0xFF, v & 0xFF))


def _u32(v):
    return bytes(((v >> 24) & 0xFF, (v >> 16) & 0xFF, (v >> 8) & 0xFF, v & 0xFF))


def _get16(b, at):
    return (b[at] << 8) | b[at + 1]


def _get32(b, at):
    return (b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]
