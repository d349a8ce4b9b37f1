# The optical-module link on a board: a machine.UART as a port for
# keyagent.hal.module_sync.ModuleLink (read_into, write, wait). Only the
# documented machine.UART methods are used: any(), readinto(), write().
from keyagent.hal.ticks import sleep_ms, ticks_diff, ticks_ms


class UartPort:
    def __init__(self, uart):
        # uart: a configured machine.UART, e.g. UART(2, 115200, timeout=0).
        self.uart = uart

    def read_into(self, buf):
        # Whatever is waiting, without blocking; 0 if nothing.
        n = self.uart.any()
        if not n:
            return 0
        got = self.uart.readinto(buf, n if n < len(buf) else len(buf))
        return got or 0

    def write(self, data):
        mv = memoryview(data)
        off = 0
        stalls = 0
        while off < len(mv):
            n = self.uart.write(mv[off:])
            if not n:
                stalls += 1
                if stalls > 3:
                    raise OSError("UART write timed out")
                continue
            off += n

    def wait(self, timeout_ms):
        # True once bytes are waiting; False after timeout_ms (-1: forever).
        start = ticks_ms()
        while not self.uart.any():
            if timeout_ms >= 0 and ticks_diff(ticks_ms(), start) >= timeout_ms:
                return False
            sleep_ms(1)
        return True
