# CPython: frames per second the SecOC observer (qkd-secoc monitor / trace
# analyze) verifies and decodes, on the vehicle DBC's traffic: two Profile 1
# and Profile 3 classic PDUs under one epoch key, with cantools decoding, best
# of three runs. A 500 kbit/s bus carries at most about 4000 such frames/s.
import os
import time

import cantools

from host_tools.observer_inputs import Keys, parse_config
from host_tools.secoc_observer import Observer
from keyagent.crypto.cmac import Cmac
from keyagent.secoc.freshness import CounterFreshness
from keyagent.crypto.kdf import secoc_key
from keyagent.secoc.engine import SecOCTx, layout_for_profile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
N = 4000
K_EPOCH = bytes(range(16))
PDUS = [{"name": "BrakePedal", "can_id": 0xB0, "data_id": 17, "length": 4, "profile": 3, "fv_bits": 32,
         "sender": 1},
        {"name": "SteeringAngle", "can_id": 0xC0, "data_id": 18, "length": 4, "profile": 1, "fv_bits": 32,
         "sender": 2}]
CONFIG = {"node": 0, "role": "master", "slaves": [], "clusters": [{"id": 1, "members": [0, 1, 2], "pdus": PDUS}]}


def frames():
    out = []
    senders = []
    for p in PDUS:
        lay = layout_for_profile(p["profile"], p["data_id"], p["length"], fv_bits=p["fv_bits"])
        tx = SecOCTx(lay, CounterFreshness(lay.fv_bits, lay.tx_fv_bits))
        tx.key = Cmac(secoc_key(K_EPOCH, 1, 1))
        senders.append((p["can_id"], tx))
    buf = bytearray(64)
    for i in range(N // 2):
        for can_id, tx in senders:
            n = tx.protect(bytes((i & 0xFF, 1, 2, 3)), 4, buf)
            out.append((i * 0.001, can_id, bytes(buf[:n])))
    return out


def run(trace, dbc):
    obs = Observer(parse_config(CONFIG), Keys(epoch_keys={1: K_EPOCH}), [dbc])
    t0 = time.perf_counter()
    for t, can_id, data in trace:
        if obs.on_frame(t, can_id, data) != "ok":
            raise RuntimeError("frame did not verify")
    return len(trace) / (time.perf_counter() - t0)


trace = frames()
dbc = cantools.database.load_file(os.path.join(ROOT, "can_dbc", "vehicle.dbc"))
print("BENCH cpy_observer_rate %.0f frames/s" % max(run(trace, dbc) for _ in range(3)))
