# Blocking calls over the optical-module link: drives the sans-I/O
# ModuleClient with a port (hal.module_uart.UartPort, hal.module_stream.StreamPort,
# or anything with read_into(buf), write(data), wait(timeout_ms)) and a ms clock.
# For a board's start-up, tools and tests; an event loop drives ModuleClient itself.
from keyagent.optical.client import ModuleClient

from keyagent.hal.ticks import ticks_ms


def random_seq():
    # A random first sequence number after a reset, so that a retransmission
    # cannot meet the previous session's answer in the module's replay window.
    try:
        from os import urandom

        return urandom(1)[0]
    except (ImportError, AttributeError, NotImplementedError):
        return ticks_ms() & 0xFF


class ModuleLink:
    def __init__(self, port, client=None, clock=ticks_ms):
        self.port = port
        self.client = client if client is not None else ModuleClient(first_seq=random_seq())
        self.clock = clock
        self._buf = bytearray(256)
        self._mv = memoryview(self._buf)

    def status(self):
        return self._call(self.client.status)

    def open_connect(self, source, destination, qos=None, ksid=None):
        return self._call(self.client.open_connect, source, destination, qos, ksid)

    def get_key(self, ksid, index):
        return self._call(self.client.get_key, ksid, index)

    def close(self, ksid):
        return self._call(self.client.close, ksid)

    def get_new_key(self, size_bits):
        return self._call(self.client.get_new_key, size_bits)

    def get_key_by_id(self, key_id):
        return self._call(self.client.get_key_by_id, key_id)

    def _call(self, start, *args):
        # Returns the Result; a failure is in its status, never raised.
        c = self.client
        while c.next_result() is not None:  # results nobody collected
            pass
        seq = start(self.clock(), *args)
        while True:
            out = c.data_to_send()
            if out:
                self.port.write(out)
            r = c.next_result()
            if r is not None and r.seq == seq:
                return r
            wait = c.next_timer(self.clock())
            if self.port.wait(wait if wait >= 0 else 1000):
                n = self.port.read_into(self._buf)
                c.receive_data(self._mv[0:n])
            c.handle_timers(self.clock())
