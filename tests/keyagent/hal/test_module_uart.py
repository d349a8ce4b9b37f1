# The board transport (keyagent.hal.module_uart) and the blocking driver
# (keyagent.hal.module_sync) against a fake machine.UART that follows
# MicroPython's documented API: any() -> int, readinto(buf[, nbytes]) -> int
# or None, write(buf) -> int or None. The "module" behind it answers with the
# worked example of docs/optical-module-protocol.md.
from fwtest import vectors, h
from keyagent.optical import link as ml
from keyagent.hal.module_sync import ModuleLink
from keyagent.hal.module_uart import UartPort
from keyagent.optical.client import ModuleClient

F = vectors("module_link_frames.json")["get_key_by_id"]


class FakeUart:
    def __init__(self, answers, chunk=7, write_chunk=5, lose_first=False):
        self.answers = answers  # request wire -> response wire
        self.chunk = chunk  # bytes any() admits at a time (a slow line)
        self.write_chunk = write_chunk  # bytes write() takes per call
        self.lose_first = lose_first
        self.rx = bytearray()  # waiting to be read by the agent
        self.tx = bytearray()  # written by the agent, not yet a whole frame
        self.written = []

    def any(self):
        return min(len(self.rx), self.chunk)

    def readinto(self, buf, nbytes=None):
        n = min(len(buf) if nbytes is None else nbytes, len(self.rx))
        if n == 0:
            return None
        buf[0:n] = self.rx[0:n]
        self.rx = self.rx[n:]
        return n

    def write(self, buf):
        n = min(len(buf), self.write_chunk)
        self.tx += bytes(buf[0:n])
        while True:
            end = 0
            while end < len(self.tx) and self.tx[end]:
                end += 1
            if end == len(self.tx):
                break
            end += 1
            frame = bytes(self.tx[0:end])
            self.tx = self.tx[end:]
            if frame == b"\x00":
                continue
            self.written.append(frame)
            if self.lose_first:
                self.lose_first = False
                continue
            self.rx += self.answers.get(frame, b"")
        return n


class Clock:
    # Every look at the clock moves time on by 5 ms, so timeouts happen
    # without waiting for them.
    def __init__(self):
        self.now = 0

    def __call__(self):
        self.now += 5
        return self.now


def link_for(uart, timeout_ms=100):
    c = ModuleClient(timeout_ms=timeout_ms, retries=2, first_seq=F["seq"])
    return ModuleLink(UartPort(uart), c, Clock())


def test_fetch_key_by_id_over_a_slow_uart():
    uart = FakeUart({h(F["request_wire"]): h(F["response_wire"])})
    r = link_for(uart).get_key_by_id(h(F["key_id"]))
    assert (r.status, bytes(r.key)) == (ml.SUCCESS, h(F["key"]))
    assert uart.written == [h(F["request_wire"])] and not uart.rx


def retry_wire():
    # The worked example's request, marked as a retransmission (type | 0x40).
    return h(F["retry_wire"])


def test_lost_answer_is_retried_with_the_same_seq():
    answers = {h(F["request_wire"]): h(F["response_wire"]), retry_wire(): h(F["response_wire"])}
    uart = FakeUart(answers, lose_first=True)
    link = link_for(uart)
    r = link.get_key_by_id(h(F["key_id"]))
    assert bytes(r.key) == h(F["key"])
    assert uart.written == [h(F["request_wire"]), retry_wire()] and link.client.retransmissions == 1


def test_silent_module_times_out():
    uart = FakeUart({})
    r = link_for(uart, timeout_ms=20).get_key_by_id(h(F["key_id"]))
    assert (r.status, r.local) == (ml.TIMEOUT, True)
    assert uart.written == [h(F["request_wire"]), retry_wire(), retry_wire()]


def test_port_reads_only_what_is_waiting():
    uart = FakeUart({}, chunk=3)
    uart.rx += b"abcdefgh"
    port = UartPort(uart)
    buf = bytearray(16)
    assert port.wait(0) and port.read_into(buf) == 3 and bytes(buf[0:3]) == b"abc"
    assert port.read_into(bytearray(2)) == 2
    uart.rx = bytearray()
    assert port.read_into(buf) == 0 and not port.wait(0)
