# A small vehicle for the rekey tests: key agents on an ideal bus in 1 ms
# steps, with stand-in optical modules sharing one key pool. The real
# module link and the timed bus are tested elsewhere; this isolates the
# rekey protocol. Runs under MicroPython and CPython.
from keyagent.agent import KeyAgent
from keyagent.storage import MemoryStorage

AUTH = "000102030405060708090a0b0c0d0e%02x"


def spent(slave):
    # SHE counters the master spent on one of its slaves, per epoch.
    return dict((epoch, entry[0]) for epoch, entry in slave.deliveries.items())


class Result:
    def __init__(self, seq, status, key_id=None, key=None):
        self.seq = seq
        self.status = status
        self.key_id = key_id
        self.key = key


class KeyPool:
    # What a QKD link gives: the master takes new keys, each slave module
    # takes each key once by its ID.
    def __init__(self):
        self.keys = {}
        self.count = 0
        self.alarm = False
        self.empty = set()  # slave modules with no key yet
        self.taken = {}

    def new(self):
        self.count += 1
        key_id = bytes(15) + bytes((self.count,))
        self.keys[key_id] = bytes((self.count * 7 + i) & 0xFF for i in range(32))
        return key_id


class FakeModule:
    def __init__(self, pool, side):
        self.pool = pool
        self.side = side
        self.seq = 0
        self.results = []

    def _result(self, status, key_id=None, key=None):
        self.seq += 1
        self.results.append(Result(self.seq, status, key_id, key))
        return self.seq

    def get_new_key(self, now, bits):
        if self.pool.alarm:
            return self._result(4)
        key_id = self.pool.new()
        return self._result(0, key_id, bytearray(self.pool.keys[key_id]))

    def get_key_by_id(self, now, key_id):
        taken = self.pool.taken.setdefault(self.side, set())
        if self.pool.alarm:
            return self._result(4)
        if self.side in self.pool.empty or key_id not in self.pool.keys or key_id in taken:
            return self._result(2)
        taken.add(key_id)
        return self._result(0, key_id, bytearray(self.pool.keys[key_id]))

    def next_result(self):
        return self.results.pop(0) if self.results else None

    def receive_data(self, data):
        pass

    def data_to_send(self):
        return b""

    def handle_timers(self, now):
        pass

    def next_timer(self, now):
        return -1


def config(direct=2, gateway=1, timing=None):
    slaves = [{"node": n, "module": n <= direct, "auth_key": AUTH % n} for n in range(1, direct + gateway + 1)]
    nodes = [0] + [s["node"] for s in slaves]
    pdus = [{"name": "msg%d" % n, "can_id": 0x100 + n, "data_id": 0x100 + n, "length": 4,
             "profile": 1, "fv_bits": 32, "sender": n} for n in nodes]
    t = {"rekey_period_ms": 1000, "grace_ms": 100, "retry_ms": 50, "activate_deadline_ms": 400,
         "join_retry_ms": 100}
    t.update(timing or {})
    clusters = [{"id": 1, "members": nodes, "pdus": pdus}]
    master = {"node": 0, "role": "master", "module": True, "slaves": slaves, "clusters": clusters, "timing": t}
    configs = {0: master}
    for s in slaves:
        configs[s["node"]] = {"node": s["node"], "role": "slave", "module": s["module"],
                              "auth_key": s["auth_key"], "clusters": clusters, "timing": t}
    return configs


class Sim:
    def __init__(self, configs, pool=None):
        self.configs = configs
        self.pool = pool or KeyPool()
        self.storages = {}
        self.agents = {}
        self.t = 0
        self._rand = 4321
        self.drop = None  # drop(can_id, data, receiver_node) -> True to lose it
        self.received = {}  # node -> verified payload count
        self.sent = 0
        self.send_failed = 0
        for node in configs:
            self.storages[node] = MemoryStorage()
            self.boot(node)

    def rand(self, n):
        # Deterministic runs: the nonces come from a seeded LCG.
        out = bytearray(n)
        for i in range(n):
            self._rand = (self._rand * 1103515245 + 12345) & 0x7FFFFFFF
            out[i] = self._rand >> 16 & 0xFF
        return bytes(out)

    def boot(self, node):
        cfg = self.configs[node]
        module = FakeModule(self.pool, node) if cfg.get("module") else None
        a = KeyAgent(cfg, self.storages[node], module, self.rand)
        self.received.setdefault(node, 0)

        def got(pdu, data, node=node):
            self.received[node] += 1

        a.on_payload = got
        a.start(self.t)
        self.agents[node] = a
        return a

    def run(self, ms, traffic_every=10):
        for _ in range(ms):
            self.t += 1
            for node, a in self.agents.items():
                if traffic_every and self.t % traffic_every == node % traffic_every:
                    for pdu in a.pdus:
                        if pdu.tx is not None:
                            if a.send(pdu, b"\x01\x02\x03\x04", self.t) > 0:
                                self.sent += 1
                            else:
                                self.send_failed += 1
                a.poll(self.t)
            for node, a in self.agents.items():
                for can_id, data, fd in a.pop_frames():
                    for other, b in self.agents.items():
                        if other != node and not (self.drop and self.drop(can_id, data, other)):
                            b.on_frame(can_id, data, self.t)

    def epochs(self):
        return dict((n, a.current.epoch if a.current else None) for n, a in self.agents.items())

    def app_rejections(self):
        total = 0
        for a in self.agents.values():
            for reason, count in a.rejected.items():
                if not reason.startswith("rekey") and not reason.startswith("she"):
                    total += count
        return total
