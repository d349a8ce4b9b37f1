# The optical-module link at 115200 baud: bytes on the wire to fetch one
# 256-bit key by ID, and the time that takes as a multiple of the wire time
# of those bytes. The firmware client (CPython) talks to the emulated module
# end over TCP through a proxy that paces each direction at the baud rate
# (8N1: 10 bits a byte), as a UART would.
import os
import socket
import statistics
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "firmware")]

from emulator.module_uart_server import ModuleUartServer  # noqa: E402
from emulator.qkd_pair import ModulePair  # noqa: E402
from keyagent.unix.module_stream import StreamPort, connect_tcp  # noqa: E402
from keyagent.hal.module_sync import ModuleLink  # noqa: E402
from keyagent.optical.client import ModuleClient  # noqa: E402

BAUD = 115200
BITS_PER_BYTE = 10
FETCHES = 60


class PacedLine:
    """One direction of a UART: bytes arrive at the far end no sooner than
    the line could have carried them."""

    def __init__(self, src, dst):
        self.src, self.dst = src, dst
        self.bytes = 0
        self._free_at = 0.0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        while True:
            try:
                data = self.src.recv(4096)
            except OSError:
                return
            if not data:
                return
            now = time.perf_counter()
            done = max(now, self._free_at) + len(data) * BITS_PER_BYTE / BAUD
            self._free_at = done
            left = done - time.perf_counter()
            if left > 0.0005:
                time.sleep(left - 0.0004)
            while time.perf_counter() < done:  # the last fraction of a ms, precisely
                pass
            self.bytes += len(data)
            try:
                self.dst.sendall(data)
            except OSError:
                return


def paced_proxy(module_url):
    host, port = module_url[len("socket://"):].rsplit(":", 1)
    listener = socket.create_server(("127.0.0.1", 0))
    module = socket.create_connection((host, int(port)))
    module.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client = connect_tcp("127.0.0.1", listener.getsockname()[1])
    agent, _ = listener.accept()
    agent.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    listener.close()
    return client, PacedLine(agent, module), PacedLine(module, agent)


def main():
    pair = ModulePair(seed=1, max_key_count=FETCHES + 10)
    pair.fill()
    with ModuleUartServer(pair, tcp_port=0) as server:
        sock, up, down = paced_proxy(server.ends["B"]["tcp"])
        link = ModuleLink(StreamPort(sock), ModuleClient(timeout_ms=1000))
        ratios = []
        sizes = set()
        for _ in range(FETCHES):
            key_id, key = pair.take_new_key("A", 256)  # the master's side, off the timed path
            before = up.bytes + down.bytes
            t0 = time.perf_counter()
            r = link.get_key_by_id(key_id)
            elapsed = time.perf_counter() - t0
            if r.status != 0 or bytes(r.key) != key:
                raise SystemExit("fetch failed: status %d" % r.status)
            n = up.bytes + down.bytes - before
            sizes.add(n)
            ratios.append(elapsed / (n * BITS_PER_BYTE / BAUD))
        sock.close()
    if len(sizes) != 1 or link.client.retransmissions:
        raise SystemExit("unexpected traffic: sizes %s, %d retransmissions" % (sizes, link.client.retransmissions))
    print("BENCH module_key_bytes %d B" % sizes.pop())
    print("BENCH module_key_overhead %.3f x" % statistics.median(ratios))


if __name__ == "__main__":
    main()
