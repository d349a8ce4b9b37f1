# MicroPython: the key agent's heap in the master role, 16 slaves (14 with
# QKD modules, 2 through SHE delivery) and 8 message clusters, through one
# rekey cycle (fetch, announce, proofs, activation, grace, retirement).
#   mpy_agent_heap_peak: the largest live heap of the agent during the cycle
#     (gc.mem_alloc() after a collection, at every 1 ms step), above the heap
#     in use before the agent was built. Code is excluded: on a board it is
#     frozen into flash; on the unix port loading it alone takes more than 64 kB.
# The slaves are stand-ins that answer on the bus the way the protocol
# says, built before the measurement starts.
import gc

from keyagent.rekey import messages as msgs
from keyagent.crypto import she
from keyagent.agent import KeyAgent
from keyagent.rekey.ids import to_master_id, to_slave_id
from keyagent.isotp.connection import IsoTpConnection, IsoTpReceiver, IsoTpSender
from keyagent.rekey.slave import she_uid
from keyagent.crypto.she_store import SheKeyStore
from keyagent.storage import MemoryStorage
from vehicle_sim import FakeModule, KeyPool  # the stand-in module of the rekey tests

SLAVES = 16
GATEWAY_SLAVES = 2
CLUSTERS = 8


def auth_key(node):
    return bytes(15) + bytes((node,))


class StandIn:
    # One slave as the master sees it on the bus.
    def __init__(self, node, agent):
        self.node = node
        self.agent = agent
        self.conn = IsoTpConnection(IsoTpSender(padding=0xCC), IsoTpReceiver(256, padding=0xCC))
        self.she = None
        if node > SLAVES - GATEWAY_SLAVES:
            self.she = SheKeyStore(she_uid(node))
            self.she.provision(she.MASTER_ECU_KEY, auth_key(node))

    def on_frame(self, data, now, out):
        self.conn.on_frame(data, now)
        msg = self.conn.pop_message()
        if msg is not None:
            self.answer(bytes(msg), now)
        for f in self.conn.poll(now):
            out.append((to_master_id(self.node), bytes(f)))

    def answer(self, msg, now):
        epoch = msgs.get32(msg, 1)
        if msg[0] == msgs.ANNOUNCE:
            self.conn.send(msgs.ack(self.agent.keys.pending.confirm(), self.node, epoch), now)
        elif msg[0] == msgs.DELIVER:
            _, _, m1, m2, m3, _, _ = msgs.parse_deliver(msg[:-8])
            erc, _, m5 = self.she.load_key(m1, m2, m3)
            self.conn.send(msgs.delivered(epoch, m5), now)


def config():
    slaves = [{"node": n, "module": n <= SLAVES - GATEWAY_SLAVES, "auth_key": auth_key(n).hex()}
              for n in range(1, SLAVES + 1)]
    clusters = []
    for c in range(CLUSTERS):
        pdus = []
        for k in range(2):
            sender = (2 * c + k) % (SLAVES + 1)
            pdus.append({"name": "m%d_%d" % (c, k), "can_id": 0x100 + 2 * c + k, "data_id": 0x100 + 2 * c + k,
                         "length": 4, "profile": 1, "fv_bits": 32, "sender": sender})
        clusters.append({"id": c + 1, "members": list(range(SLAVES + 1)), "pdus": pdus})
    return {"node": 0, "role": "master", "module": True, "slaves": slaves, "clusters": clusters,
            "timing": {"rekey_period_ms": 100000, "grace_ms": 50, "retry_ms": 100, "activate_deadline_ms": 1000}}


def main():
    cfg = config()
    storage = MemoryStorage()
    module = FakeModule(KeyPool(), 0)
    gc.collect()
    base = gc.mem_alloc()
    agent = KeyAgent(cfg, storage, module)
    gc.collect()
    built = gc.mem_alloc() - base
    stand_ins = {}
    for n in range(1, SLAVES + 1):
        stand_ins[to_slave_id(n)] = StandIn(n, agent)
    gc.collect()
    stand_in_bytes = gc.mem_alloc() - base - built  # not the agent's: left out below
    peak = 0
    replies = []
    agent.start(0)
    payload = b"\x01\x02\x03\x04"
    for now in range(1, 400):
        for can_id, data in replies:
            agent.on_frame(can_id, data, now)
        replies = []
        agent.poll(now)
        if now % 10 == 0 and agent.current is not None:
            for pdu in agent.pdus:
                if pdu.tx is not None:
                    agent.send(pdu, payload, now)
        for can_id, data, fd in agent.pop_frames():
            s = stand_ins.get(can_id)
            if s is not None:
                s.on_frame(data, now, replies)
        gc.collect()
        used = gc.mem_alloc() - base
        if used > peak:
            peak = used
    if agent.current is None or agent.current.epoch != 1 or agent.keys.retiring is not None:
        raise RuntimeError("the rekey cycle did not complete")
    print("BENCH mpy_agent_heap_built %d B" % built)
    print("BENCH mpy_agent_heap_peak %d B" % (peak - stand_in_bytes))


main()
