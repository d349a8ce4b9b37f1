# The ECU main loop (keyagent.node) with a fake CAN bus, a fake clock that
# starts just before the 2**30 ticks wrap, and the stand-in modules of
# vehicle_sim. Runs under MicroPython and CPython.
from keyagent.agent import KeyAgent
from keyagent.node import Node, ticks_diff
from keyagent.storage import MemoryStorage
from vehicle_sim import FakeModule, KeyPool, config

WRAP = 1 << 30


class Clock:
    def __init__(self, start):
        self.t = start

    def __call__(self):
        return self.t & (WRAP - 1)


class Wire:
    # An ideal bus: every frame sent reaches every other port.
    def __init__(self):
        self.ports = []
        self.log = []  # (sender node, can_id, data, fd)

    def port(self, name):
        p = Port(self, name)
        self.ports.append(p)
        return p


class Port:
    def __init__(self, wire, name):
        self.wire = wire
        self.name = name
        self.inbox = []
        self.waited = 0

    def send(self, can_id, data, fd):
        self.wire.log.append((self.name, can_id, bytes(data), fd))
        for p in self.wire.ports:
            if p is not self:
                p.inbox.append((can_id, bytes(data)))

    def recv(self, timeout_ms):
        self.waited += timeout_ms
        return self.inbox.pop(0) if self.inbox else None


def make_nodes(clock, periods=None, status_ms=1000):
    configs = config(direct=0, gateway=1)
    for cluster in configs[0]["clusters"]:
        for spec in cluster["pdus"]:
            if periods and spec["name"] in periods:
                spec["period_ms"] = periods[spec["name"]]
    pool = KeyPool()
    wire = Wire()
    lines = []
    nodes = {}
    for n in (0, 1):
        module = FakeModule(pool, n) if configs[n].get("module") else None
        agent = KeyAgent(configs[n], MemoryStorage(), module)
        nodes[n] = Node(agent, configs[n], wire.port(n), clock, out=lines.append, status_ms=status_ms)
    return nodes, wire, lines


def run_both(nodes, clock, ms):
    for node in nodes.values():
        if node._last_tick is None:
            node.start()
    for _ in range(ms):
        clock.t += 1
        for node in nodes.values():
            node.step()


def test_ticks_diff_wraps_at_2_30():
    assert ticks_diff(5, WRAP - 5) == 10
    assert ticks_diff(WRAP - 5, 5) == -10
    assert ticks_diff(1000, 400) == 600


def test_master_and_gateway_slave_rekey_across_the_ticks_wrap():
    clock = Clock(WRAP - 700)
    nodes, wire, lines = make_nodes(clock)
    got = []
    nodes[0].agent.on_payload = lambda pdu, data: got.append(bytes(data))
    run_both(nodes, clock, 1500)  # the clock wraps 700 ms in
    m, s = nodes[0], nodes[1]
    assert m.now == 1500 and s.now == 1500
    assert m.agent.current.epoch == 2 and s.agent.current.epoch == 2
    assert m.agent.verified > 0 and s.agent.verified > 0
    # Only frames sent before the slave had a key are refused.
    assert sum(m.agent.rejected.values()) == 0
    assert s.unsent > 0 and s.sent > 0
    # The payload is a running counter: consecutive frames of one PDU.
    first = got[0][0]
    assert got[0] == bytes((first + i) & 0xFF for i in range(4))
    assert got[1][0] == (first + 1) & 0xFF


def test_pdus_are_sent_at_their_period():
    clock = Clock(0)
    nodes, wire, lines = make_nodes(clock, periods={"msg0": 25, "msg1": 40})
    run_both(nodes, clock, 999)
    sent0 = [e for e in wire.log if e[1] == 0x100]
    sent1 = [e for e in wire.log if e[1] == 0x101]
    # Due at 0, 25, ... 975 and 0, 40, ... 960; at 0 neither has an active key.
    assert nodes[0].sent == 39 and nodes[0].unsent == 1 and len(sent0) == 39
    assert nodes[1].sent + nodes[1].unsent == 25 and len(sent1) == nodes[1].sent


def test_status_lines_give_counts_never_keys():
    clock = Clock(0)
    nodes, wire, lines = make_nodes(clock, status_ms=500)
    run_both(nodes, clock, 1200)
    status = [l for l in lines if l.startswith("status node=1 ")]
    assert len(status) == 2
    last = dict(f.split("=", 1) for f in status[-1].split()[1:])
    assert last["t"] == "1000" and last["epoch"] == "1" and int(last["verified"]) > 0 and last["rejected"] == "-"
    assert [l for l in lines if l.startswith("event node=0 ") and "epoch_active" in l]
    secrets = []
    for n in (0, 1):
        a = nodes[n].agent
        for keys in (a.keys.current, a.keys.pending, a.keys.retiring):
            if keys is not None:
                secrets.append(bytes(keys.k_epoch).hex())
    text = "\n".join(lines)
    assert secrets and not [k for k in secrets if k in text or k.upper() in text]


def test_rejections_are_counted_by_reason_in_the_status():
    clock = Clock(0)
    nodes, wire, lines = make_nodes(clock)
    run_both(nodes, clock, 400)
    nodes[1].can.inbox.append((0x100, bytes(8)))  # forged: a zero MAC
    nodes[1].can.inbox.append((0x100, bytes(12)))  # the wrong length
    run_both(nodes, clock, 5)
    nodes[1].status()
    status = [l for l in lines if l.startswith("status node=1 ")]
    assert status[-1].endswith(" rejected=mac_mismatch:1,malformed_length:1")


def test_run_is_bounded_and_feeds_the_watchdog():
    clock = Clock(WRAP - 10)
    configs = config(direct=0, gateway=1)
    agent = KeyAgent(configs[1], MemoryStorage())
    fed = []

    class WaitingPort(Port):
        def recv(self, timeout_ms):
            clock.t += timeout_ms if timeout_ms > 0 else 1  # time passes while it waits
            return None

    port = WaitingPort(Wire(), 1)
    port.wire.ports.append(port)
    node = Node(agent, configs[1], port, clock, out=lambda line: None, watchdog=lambda: fed.append(1))
    node.run(duration_ms=2000)
    assert 2000 <= node.now <= 2100
    assert len(fed) >= 20
    # No master answers: JOIN every join_retry_ms (100), none of them answered.
    joins = [e for e in port.wire.log if e[1] == 0x741]
    # (first frames only, each given up after N_Bs: no flow control comes)
    assert len(joins) == 20 and agent.current is None


def test_module_bytes_pass_both_ways():
    class Module(FakeModule):
        def __init__(self, pool, side):
            FakeModule.__init__(self, pool, side)
            self.got = []
            self.out = [b"req1", b"req2"]

        def receive_data(self, data):
            self.got.append(bytes(data))

        def data_to_send(self):
            return self.out.pop(0) if self.out else b""

    class Stream:
        def __init__(self):
            self.written = []
            self.incoming = [b"resp"]

        def read(self):
            return self.incoming.pop(0) if self.incoming else b""

        def write(self, data):
            self.written.append(bytes(data))

    clock = Clock(0)
    configs = config(direct=0, gateway=1)
    module = Module(KeyPool(), 0)
    stream = Stream()
    wire = Wire()
    node = Node(KeyAgent(configs[0], MemoryStorage(), module), configs[0], wire.port(0), clock,
                module=stream, out=lambda line: None)
    node.start()
    for _ in range(3):
        clock.t += 1
        node.step()
    assert stream.written == [b"req1", b"req2"]
    assert module.got == [b"resp"]


def test_a_message_queued_behind_a_busy_isotp_sender_is_not_due_at_once():
    # Else the loop spins while the sender waits for flow control.
    configs = config(direct=0, gateway=1)
    agent = KeyAgent(configs[1], MemoryStorage())
    agent.start(0)
    agent.poll(0)  # JOIN's first frame is out; the sender waits for flow control
    agent.unicast(0, bytes(20), 0)
    assert agent.next_timer(0) == 100  # N_Bs and the next JOIN, not now
