# A small recorded bus for the monitor and trace analyze tests, built with
# the firmware's own SecOCTx and rekey message formats: two SecOC PDUs of the
# vehicle DBC in cluster 1, a rekey to epoch 1 (ANNOUNCE to a direct slave
# whose QKD key ID is in the key file, ACK, ACTIVATE x3), OK frames, a
# replayed and a tampered frame, a rekey to epoch 2 whose key the observer
# learns only from the SHE M2 of a DELIVER to a gateway slave, frames in
# flight under the old key within and after the grace period, and a plain
# frame. Times are seconds.
from keyagent.rekey import messages as R
from keyagent.crypto import she
from keyagent.crypto.cmac import Cmac
from keyagent.secoc.freshness import CounterFreshness
from keyagent.isotp.connection import IsoTpReceiver
from keyagent.isotp.sender import IsoTpSender
from keyagent.crypto.kdf import secoc_key
from keyagent.secoc.engine import SecOCTx, layout_for_profile

AUTH = {1: bytes(range(16)), 2: bytes(range(16, 32))}
Q1_ID = bytes.fromhex("00112233445566778899aabbccddeeff")
Q1 = bytes(range(0x40, 0x60))  # 256-bit QKD key of epoch 1
Q2_ID = bytes.fromhex("ffeeddccbbaa99887766554433221100")
Q2 = bytes(range(0x80, 0xA0))  # epoch 2: not in the key file
UID2 = bytes(14) + b"\x02"
T0 = 1700000000.0  # absolute start (BLF keeps it, ASC does not)

CONFIG = {
    "node": 0, "role": "master", "module": True,
    "slaves": [{"node": 1, "module": True, "auth_key": AUTH[1].hex()},
               {"node": 2, "module": False, "auth_key": AUTH[2].hex()}],
    "clusters": [{"id": 1, "members": [0, 1, 2], "pdus": [
        {"name": "BrakePedal", "can_id": 0xB0, "data_id": 17, "length": 4, "profile": 3,
         "fv_bits": 32, "fd": False, "sender": 1},
        {"name": "SteeringAngle", "can_id": 0xC0, "data_id": 18, "length": 4, "profile": 1,
         "fv_bits": 32, "fd": False, "sender": 2}]}],
    "timing": {"grace_ms": 500},
}
KEYS = {"qkd_keys": {Q1_ID.hex(): Q1.hex()}}


def isotp_frames(can_id, reply_id, msg):
    """(can_id, data) frames of one ISO-TP message, with the receiver's flow
    control on reply_id after the first frame."""
    tx = IsoTpSender(padding=0xCC)
    rx = IsoTpReceiver(padding=0xCC)
    tx.send(msg, 0)
    out = []
    while tx.busy():
        f = tx.poll(0)
        if f is None:
            break
        f = bytes(f)
        out.append((can_id, f))
        fc = rx.on_frame(f, 0)
        if fc is not None:
            out.append((reply_id, bytes(fc)))
            tx.on_frame(fc, 0)
    assert rx.pop_message() == msg
    return out


class _Sender:
    def __init__(self, pdu):
        self.layout = layout_for_profile(pdu["profile"], pdu["data_id"], pdu["length"], fv_bits=pdu["fv_bits"])
        self.can_id = pdu["can_id"]
        self.tx = None

    def rekey(self, k_epoch, epoch):
        self.tx = SecOCTx(self.layout, CounterFreshness(self.layout.fv_bits, self.layout.tx_fv_bits))
        self.tx.key = Cmac(secoc_key(k_epoch, 1, epoch))

    def frame(self, payload):
        out = bytearray(64)
        n = self.tx.protect(payload, len(payload), out)
        return self.can_id, bytes(out[:n])


def build():
    """[(t, can_id, data)] of the whole scenario."""
    brake, steer = (_Sender(p) for p in CONFIG["clusters"][0]["pdus"])
    k1 = R.epoch_key(Q1, 1)
    k2 = R.epoch_key(Q2, 2)
    frames = []
    t = [T0]

    def at(dt, items):
        for can_id, data in items:
            t[0] += dt
            frames.append((round(t[0], 6), can_id, data))

    auth1 = Cmac(AUTH[1])
    auth2 = Cmac(AUTH[2])
    # epoch 1: ANNOUNCE to node 1, ACK, ACTIVATE x3
    at(0.001, isotp_frames(0x701, 0x741, R.announce(auth1, 1, 1, Q1_ID, R.NO_NONCE)))
    at(0.001, isotp_frames(0x741, 0x701, R.ack(Cmac(R.confirm_key(k1, 1)), 1, 1)))
    act = bytearray(8)
    R.activate(Cmac(R.mgmt_key(k1, 1)), 1, act)
    at(0.020, [(0x6F0, bytes(act))] * 3)
    brake.rekey(k1, 1)
    steer.rekey(k1, 1)
    sent = []
    for i in range(20):  # 20 frames each, 10 ms apart
        at(0.005, [brake.frame(bytes((i, 2 * i, 0, i & 15)))])
        sent.append(steer.frame(bytes((i, 0, 10, 0))))
        at(0.005, [sent[-1]])
    at(0.005, [sent[4]])  # a replay: stale_freshness
    can_id, data = brake.frame(b"\x01\x02\x03\x04")
    at(0.005, [(can_id, data[:3] + bytes((data[3] ^ 0x40,)) + data[4:])])  # tampered payload: mac_mismatch
    at(0.005, [(0x1A0, bytes.fromhex("e803020a00000000"))])  # VehicleStatus: not a configured PDU
    # epoch 2: ANNOUNCE to node 1 (key ID unknown to the observer), DELIVER to
    # node 2 (the observer reads K_epoch from M2), DELIVERED, ACTIVATE x3
    at(0.001, isotp_frames(0x701, 0x741, R.announce(auth1, 1, 2, Q2_ID, R.NO_NONCE)))
    m1, m2, m3, m4, m5 = she.update_messages(UID2, she.KEY_1, she.MASTER_ECU_KEY, AUTH[2], k2, 2 << 4, 0)
    at(0.001, isotp_frames(0x702, 0x742, R.deliver(auth2, 2, 2, False, R.NO_NONCE, m1, m2, m3, [])))
    at(0.001, isotp_frames(0x742, 0x702, R.delivered(2, m5)))
    old_brake = brake.frame(b"\x05\x06\x07\x08")  # built under epoch 1, sent late
    R.activate(Cmac(R.mgmt_key(k2, 2)), 2, act)
    at(0.020, [(0x6F0, bytes(act))] * 3)
    at(0.005, [old_brake])  # in flight within the grace period: ok (epoch 1)
    brake.rekey(k2, 2)
    steer.rekey(k2, 2)
    for i in range(5):
        at(0.005, [brake.frame(bytes((i, 0, 0, 0)))])
        at(0.005, [steer.frame(bytes((i, 0, 20, 0)))])
    at(0.600, [old_brake_late(k1)])  # after the grace period: the old key is gone
    return frames


def old_brake_late(k1):
    # A BrakePedal frame under epoch 1 with a fresh FV: after grace, no_key
    # for the alternate and mac_mismatch under the current key.
    s = _Sender(CONFIG["clusters"][0]["pdus"][0])
    s.rekey(k1, 1)
    s.tx.fvm.counter = 40
    return s.frame(b"\x09\x09\x09\x09")


def write(path, frames):
    """Write frames with python-can's BLF or ASC writer (by extension)."""
    import can

    writer = can.BLFWriter(path) if path.endswith(".blf") else can.ASCWriter(path)
    for t, can_id, data in frames:
        writer.on_message_received(can.Message(timestamp=t, arbitration_id=can_id, is_extended_id=False,
                                               data=data, channel=1))
    writer.stop()
