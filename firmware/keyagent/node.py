# One ECU's main loop, shared by the boards and the unix port: it moves
# frames between a CAN adapter and the KeyAgent, bytes between the optical
# module and the agent, polls the agent when its timer is due, sends this
# node's application PDUs periodically, prints a status line now and then
# and feeds a watchdog. It does no I/O itself; the caller hands in:
#
#   can      send(can_id, data, fd); recv(timeout_ms) -> (can_id, data) or
#            None: waits at most timeout_ms for one received frame
#   clock_ms time.ticks_ms-compatible (wraps at 2**30)
#   module   optional byte stream to the optical module: read() -> bytes
#            (empty when nothing waits, never blocks), write(data)
#   out      where status lines go (print by default)
#   watchdog optional callable fed once per loop round
#
#   node = Node(agent, config, can, time.ticks_ms)
#   node.run(duration_ms=60000)
from keyagent.compat import const

_TICKS_PERIOD = const(0x40000000)  # MicroPython's ticks_ms wraps here
_TICKS_MASK = const(0x3FFFFFFF)
_TICKS_HALF = const(0x20000000)
_MAX_FRAMES_PER_ROUND = const(64)  # then timers and traffic get their turn
_MAX_POLLS_PER_ROUND = const(8)
_MODULE_WAIT_MS = const(5)  # the module stream is polled, not waited on
DEFAULT_PERIOD_MS = 100
DEFAULT_STATUS_MS = 1000


def ticks_diff(a, b):
    # time.ticks_diff without time: the signed distance a - b modulo 2**30.
    d = (a - b) & _TICKS_MASK
    return d - _TICKS_PERIOD if d >= _TICKS_HALF else d


def pdu_periods(config):
    # {pdu name: period_ms} from the configuration, for every PDU that has one.
    periods = {}
    for cluster in config.get("clusters", ()):
        for spec in cluster.get("pdus", ()):
            if "period_ms" in spec:
                periods[spec["name"]] = spec["period_ms"]
    return periods


class _Traffic:
    # One PDU this node sends: its period, next due time and a payload
    # buffer filled from a running counter (deterministic, easy to check).
    def __init__(self, pdu, period_ms, due):
        if period_ms <= 0:
            raise ValueError("period_ms must be positive")
        self.pdu = pdu
        self.period = period_ms
        self.due = due
        self.counter = 0
        self.payload = bytearray(pdu.layout.payload_len)

    def fill(self):
        c = self.counter
        p = self.payload
        for i in range(len(p)):
            p[i] = (c + i) & 0xFF
        self.counter = (c + 1) & 0xFFFFFFFF
        return p


class PortStream:
    # The module byte stream Node expects, over a port with wait(timeout_ms),
    # read_into(buf) and write(data) (keyagent.hal.module_uart.UartPort on a
    # board, keyagent.unix.module_stream.StreamPort on the unix port):
    # read() never blocks.
    def __init__(self, port):
        self.port = port
        self._buf = bytearray(256)

    def read(self):
        if not self.port.wait(0):
            return b""
        n = self.port.read_into(self._buf)
        return bytes(self._buf[:n])

    def write(self, data):
        self.port.write(data)


class Node:
    def __init__(self, agent, config, can, clock_ms, module=None, out=print, watchdog=None,
                 status_ms=DEFAULT_STATUS_MS, default_period_ms=DEFAULT_PERIOD_MS,
                 traffic=True, max_wait_ms=50):
        self.agent = agent
        self.can = can
        self.clock_ms = clock_ms
        self.module = module
        self.out = out
        self.watchdog = watchdog
        self.status_ms = status_ms
        self.max_wait_ms = max_wait_ms
        self.now = 0  # monotonic ms since start, what the agent sees
        self._last_tick = None
        self.running = False
        self.sent = 0
        self.unsent = 0  # sends refused by the agent (no key yet, ...)
        self.received = 0
        self.traffic = []
        periods = pdu_periods(config)
        if traffic:
            for pdu in agent.pdus:
                if pdu.tx is not None:
                    self.traffic.append(_Traffic(pdu, periods.get(pdu.name, default_period_ms), 0))
        self._next_status = status_ms
        self._status_at = None

    # Time.

    def tick(self):
        # Advances self.now by the wrapped distance since the last call.
        t = self.clock_ms() & _TICKS_MASK
        if self._last_tick is not None:
            d = ticks_diff(t, self._last_tick)
            if d > 0:
                self.now += d
        self._last_tick = t
        return self.now

    # The loop.

    def start(self):
        self.tick()
        self.agent.start(self.now)
        self._flush()

    def stop(self):
        self.running = False

    def run(self, duration_ms=None):
        # Runs until duration_ms of clock time have passed (None: until stop()).
        if self._last_tick is None:
            self.start()
        end = None if duration_ms is None else self.now + duration_ms
        self.running = True
        while self.running:
            if end is not None and self.now >= end:
                break
            self.step(end)
        if self._status_at != self.now:
            self.status()

    def step(self, end=None):
        # One round: wait for a frame until the next thing is due, then
        # take what arrived, send what is due and poll the agent.
        a = self.agent
        if self.watchdog is not None:
            self.watchdog()
        now = self.tick()
        wait = self._next_due(now) - now
        if end is not None and end - now < wait:
            wait = end - now
        if wait < 0:
            wait = 0
        frame = self.can.recv(wait)
        now = self.tick()
        count = 0
        while frame is not None:
            self.received += 1
            a.on_frame(frame[0], frame[1], now)
            count += 1
            if count >= _MAX_FRAMES_PER_ROUND:
                break
            frame = self.can.recv(0)
        if self.module is not None:
            data = self.module.read()
            if data:
                a.on_module_data(data, now)
        for t in self.traffic:
            if now >= t.due:
                self._send(t, now)
        for _ in range(_MAX_POLLS_PER_ROUND):
            a.poll(now)
            self._flush()
            if a.next_timer(now) > now:
                break
        if now >= self._next_status:
            self.status()
            self._next_status = now + self.status_ms

    def _next_due(self, now):
        t = self.agent.next_timer(now)
        for tr in self.traffic:
            if tr.due < t:
                t = tr.due
        if self._next_status < t:
            t = self._next_status
        limit = now + (_MODULE_WAIT_MS if self.module is not None else self.max_wait_ms)
        return t if t < limit else limit

    def _send(self, t, now):
        if self.agent.send(t.pdu, t.fill(), now) > 0:
            self.sent += 1
        else:
            self.unsent += 1
        t.due += t.period
        if t.due <= now:  # fell behind (a long stall): no burst to catch up
            t.due = now + t.period

    def _flush(self):
        can = self.can
        for can_id, data, fd in self.agent.pop_frames():
            can.send(can_id, data, fd)
        if self.module is not None:
            data = self.agent.module_data()
            if data:
                self.module.write(data)

    # What an operator sees: counts and epochs, never keys.

    def status(self):
        a = self.agent
        self._status_at = self.now
        reasons = sorted(a.rejected.items())
        rejected = ",".join("%s:%d" % r for r in reasons) if reasons else "-"
        epoch = a.current.epoch if a.current is not None else "-"
        pending = a.keys.pending.epoch if a.keys.pending is not None else "-"
        self.out("status node=%d t=%d epoch=%s pending=%s verified=%d sent=%d unsent=%d rx=%d rejected=%s"
                 % (a.node, self.now, epoch, pending, a.verified, self.sent, self.unsent,
                    self.received, rejected))
        self._events()

    def _events(self):
        a = self.agent
        for t, kind, detail in a.events:
            self.out("event node=%d t=%d %s %s" % (a.node, t, kind, "-" if detail is None else detail))
        a.events = []
        if a.dropped_events:
            self.out("event node=%d t=%d events_dropped %d" % (a.node, self.now, a.dropped_events))
            a.dropped_events = 0
