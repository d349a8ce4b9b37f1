# The rekey protocol's messages and key derivations (docs/rekey-protocol.md).
#
# Unicast messages travel over ISO-TP between the master and one slave and
# carry an 8-byte MAC under that slave's long-term authentication key
# (K_auth, provisioned at end of line), so a slave can check them with no
# epoch state at all, e.g. right after a reboot. ACTIVATE is one broadcast
# CAN frame authenticated under the new epoch's management key.
#
# Every parse function returns None for anything malformed or unauthentic;
# callers count that as a rejection. Nothing here raises on peer bytes.
from keyagent.compat import const
from keyagent.crypto.bufops import ct_equal
from keyagent.crypto import kdf

ANNOUNCE = const(0x01)
ACK = const(0x02)
NACK = const(0x03)
DELIVER = const(0x04)
DELIVERED = const(0x05)
JOIN = const(0x06)
ACTIVATE = const(0x10)

NAMES = {ANNOUNCE: "announce", ACK: "ack", NACK: "nack", DELIVER: "deliver",
         DELIVERED: "delivered", JOIN: "join", ACTIVATE: "activate"}

MAC_LEN = const(8)
KEY_ID_LEN = const(16)
NONCE_LEN = const(8)
NO_NONCE = bytes(NONCE_LEN)  # in ANNOUNCE and DELIVER: no JOIN of this boot heard
ANNOUNCE_BODY = const(29)  # type, epoch, key ID, nonce
DELIVER_BODY = const(79)  # without its floors
JOIN_BODY = const(17)  # type, last epoch, boot count, nonce
DELIVERED_LEN = const(21)  # type, epoch, M5
EPOCH_LABEL = b"qkd-secoc epoch"
CONFIRM_LABEL = b"qkd-secoc confirm"
MGMT_LABEL = b"qkd-secoc mgmt"


def wipe(buf):
    for i in range(len(buf)):
        buf[i] = 0


def be32(value):
    return bytes(((value >> 24) & 0xFF, (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF))


def get32(buf, off):
    return (buf[off] << 24) | (buf[off + 1] << 16) | (buf[off + 2] << 8) | buf[off + 3]


def epoch_key(qkd_key, epoch):
    # K_epoch: 16 bytes from the QKD key (16 or 32 bytes) and the epoch.
    # A bytearray; no immutable copy of either half is made (they could
    # not be wiped on MicroPython).
    if len(qkd_key) not in (16, 32):
        raise ValueError("QKD key must be 128 or 256 bits")
    q = memoryview(qkd_key)
    context = bytearray(len(qkd_key) - 12)
    context[0:4] = be32(epoch)
    context[4:] = q[16:]
    out = kdf.derive(q[0:16], EPOCH_LABEL, context, 16)
    for i in range(len(context)):
        context[i] = 0
    return out


def confirm_key(k_epoch, epoch):
    return kdf.derive(k_epoch, CONFIRM_LABEL, be32(epoch), 16)


def mgmt_key(k_epoch, epoch):
    return kdf.derive(k_epoch, MGMT_LABEL, be32(epoch), 16)


def _mac8(cmac, node, body):
    return cmac.digest(bytes((node,)) + body)[0:MAC_LEN]


def seal(auth, node, body):
    # body || MAC8(K_auth, node || body)
    return body + _mac8(auth, node, body)


def open_sealed(auth, node, msg, min_len):
    # The body of a sealed message, or None.
    if len(msg) < min_len + MAC_LEN:
        return None
    body = bytes(msg[0:len(msg) - MAC_LEN])
    if not ct_equal(_mac8(auth, node, body), msg[len(msg) - MAC_LEN:], MAC_LEN):
        return None
    return body


def announce(auth, node, epoch, key_id, nonce):
    # nonce: the one of the slave's last JOIN (NO_NONCE if none): a slave
    # that has not joined since it booted takes only what echoes its nonce.
    return seal(auth, node, bytes((ANNOUNCE,)) + be32(epoch) + bytes(key_id) + bytes(nonce))


def parse_announce(body):
    # (epoch, key ID, nonce) from an opened ANNOUNCE body, or None.
    if len(body) != ANNOUNCE_BODY:
        return None
    return get32(body, 1), body[5:21], body[21:29]


def ack(confirm, node, epoch):
    # The proof of possession: only a holder of K_epoch can compute it.
    body = bytes((ACK,)) + be32(epoch)
    return body + _mac8(confirm, node, body)


def check_ack(confirm, node, msg):
    return len(msg) == 5 + MAC_LEN and ct_equal(_mac8(confirm, node, bytes(msg[0:5])), msg[5:], MAC_LEN)


def nack(auth, node, epoch, status):
    return seal(auth, node, bytes((NACK,)) + be32(epoch) + bytes((status & 0xFF,)))


def deliver(auth, node, epoch, active, nonce, m1, m2, m3, floors):
    # active: the answer to a JOIN (nonce = the JOIN's, which proves it
    # fresh); else a pending epoch in a rekey (nonce = the slave's last JOIN
    # nonce, or NO_NONCE). floors: (pdu index, freshness value) pairs the
    # slave resumes from (active only).
    body = bytearray((DELIVER,)) + be32(epoch) + bytes((1 if active else 0,)) + m1 + m2 + m3 + nonce
    body.append(len(floors))
    for index, fv in floors:
        body.append(index)
        body += be32(fv)
    return seal(auth, node, bytes(body))


def parse_deliver(body):
    # (epoch, active, m1, m2, m3, nonce, floors) from an opened DELIVER
    # body, or None.
    if len(body) < DELIVER_BODY or body[5] > 1:
        return None
    count = body[78]
    if len(body) != DELIVER_BODY + 5 * count:
        return None
    floors = [(body[79 + 5 * i], get32(body, 80 + 5 * i)) for i in range(count)]
    return get32(body, 1), body[5] == 1, body[6:22], body[22:54], body[54:70], body[70:78], floors


def delivered(epoch, m5):
    # M5 = CMAC(K4, M4) authenticates itself (SHE): no extra MAC. M4 stays
    # home: the master knows the slave's UID, the slot IDs and the counter, so
    # M4 holds nothing it does not know, and sending it would cost a CAN FD
    # frame of 64 bytes instead of 24 (or 4 more classic frames).
    return bytes((DELIVERED,)) + be32(epoch) + bytes(m5)


def join(auth, node, last_epoch, boot, nonce):
    # boot: the slave's persisted boot count, so that a replayed JOIN from
    # an earlier boot is refused; nonce: fresh for each joining, echoed by
    # the master's answer, so that no recorded answer can pass for it.
    return seal(auth, node, bytes((JOIN,)) + be32(last_epoch) + be32(boot) + bytes(nonce))


def activate(mgmt, epoch, out):
    # The 8-byte broadcast frame: type || epoch || MAC24(K_mgmt).
    out[0] = ACTIVATE
    out[1:5] = be32(epoch)
    out[5:8] = mgmt.digest(bytes(out[0:5]))[0:3]
    return 8


def check_activate(mgmt, frame, n):
    return n == 8 and frame[0] == ACTIVATE and ct_equal(mgmt.digest(bytes(frame[0:5])), frame[5:8], 3)
