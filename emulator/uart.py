# A serial line in virtual time: bytes written at one end arrive at the
# other after their wire time at `baud` (start + 8 data + stop bits), one
# byte after another, as on the UART between an ECU and its optical module.
from emulator.clock import S

BITS_PER_BYTE = 10


class UartDirection:
    def __init__(self, clock, baud, deliver):
        self.clock = clock
        self.ns_per_byte = BITS_PER_BYTE * S // baud
        self.deliver = deliver  # deliver(bytes) at the far end
        self.busy_until = 0
        self.bytes = 0
        self.connected = True  # False: the cable is pulled, bytes are lost

    def write(self, data):
        if not data or not self.connected:
            return
        start = max(self.clock.now, self.busy_until)
        self.busy_until = start + len(data) * self.ns_per_byte
        self.bytes += len(data)
        self.clock.call_at(self.busy_until, self._arrive, bytes(data))

    def _arrive(self, data):
        if self.connected:
            self.deliver(data)
