# A small bus under multi-counter freshness for the observer tests
# (tests/host_tools/test_observer_sync.py, tests/fuzz/test_observer_fuzz.py):
# the two SecOC PDUs of secoc_trace_builder on "freshness": "multi", made
# with keyagent's own FV master (MultiCounter on node 0: trip from storage,
# SyncState.build under K_sync) and senders (the agent's Pdu and SecOCTx).
import copy

import secoc_trace_builder as B
from keyagent.agent import Pdu
from keyagent.crypto.cmac import Cmac
from keyagent.crypto.kdf import secoc_key
from keyagent.rekey import messages as R
from keyagent.secoc.multi_counter import MultiCounter, sync_key
from keyagent.storage import MemoryStorage

SYNC_ID = 0x6F1
K1 = R.epoch_key(B.Q1, 1)


def multi_config(layout="jaspar"):
    """secoc_trace_builder's node configuration with both PDUs on
    multi-counter freshness in this layout (a name or a layout text)."""
    config = copy.deepcopy(B.CONFIG)
    config["freshness"] = {"layout": layout, "sync_can_id": SYNC_ID}
    for spec in config["clusters"][0]["pdus"]:
        spec["freshness"] = "multi"
    return config


CONFIG = multi_config()  # jaspar: BrakePedal 2 + 2 FV bits on the wire, SteeringAngle 6 + 2


class Bus:
    """The FV master (trip 4 from its storage) and the two senders, keyed
    for epoch 1; frames go to the observer with a time 10 ms apart."""

    def __init__(self, obs, k_epoch=K1, epoch=1, config=CONFIG):
        self.obs = obs
        self.t = 0.0
        self.storage = MemoryStorage({"trip": 3})
        self.master = MultiCounter(dict(config, node=0), self.storage)
        self.sync_key = sync_key(k_epoch, epoch)
        self.senders = {}
        for i, spec in enumerate(config["clusters"][0]["pdus"]):
            pdu = Pdu(i, 1, spec, spec["sender"], self.master)
            pdu.tx.key = Cmac(secoc_key(k_epoch, 1, epoch))
            self.senders[spec["name"]] = pdu

    def frame(self, name, payload=b"\x01\x02\x03\x04"):
        pdu = self.senders[name]
        out = bytearray(64)
        n = pdu.tx.protect(payload, len(payload), out)
        assert n > 0
        return pdu.can_id, bytes(out[:n])

    def sync(self, next_reset=True):
        if next_reset:
            self.master.state.next_reset(self.storage)
        out = bytearray(8)
        n = self.master.state.build(self.master.data_id, self.sync_key, out)
        return SYNC_ID, bytes(out[:n])

    def see(self, frame):
        self.t += 0.01
        return self.obs.on_frame(self.t, *frame)

    def genuine(self, cycles=3, per_cycle=4):
        """[(t, can_id, data)]: a sync, then per_cycle frames of each PDU, cycles times."""
        out = []
        for c in range(cycles):
            out.append(self.sync(next_reset=c > 0))
            for _ in range(per_cycle):
                out += [self.frame("BrakePedal"), self.frame("SteeringAngle")]
        return [(0.01 * (i + 1), can_id, data) for i, (can_id, data) in enumerate(out)]
