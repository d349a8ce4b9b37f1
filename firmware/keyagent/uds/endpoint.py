# The UDS server on the ECU's physical diagnostic CAN IDs, over ISO-TP,
# sans-I/O like the agent: the node loop (or the emulator) hands in frames
# received on the request ID and the time, and takes out frames for the
# response ID. Responses queue behind each other (a 0x78 and the answer it
# announced); an ECUReset calls reset() at the first poll after the caller
# took its response's frames (pop_frames).
#
#   ep = DiagEndpoint(server, rx_id, tx_id, reset, tick)
#   ep.on_frame(data, now); ep.poll(now); ep.pop_frames(); ep.next_timer(now)
#
# tick(now) is polled too and returns True when the ECU must reset (the
# probation of a new slot ran out).
from keyagent.isotp.connection import IsoTpConnection, IsoTpReceiver, IsoTpSender
from keyagent.uds.server import BLOCK_LEN

_ISOTP_TIMEOUT_MS = 1000
_MAX_QUEUED = 4


def diag_ids(config):
    # (request ID, response ID) of a node: "diag_ids" in its configuration,
    # else 0x7E0 + n / 0x7E8 + n for nodes 0..7; None when it has none.
    ids = config.get("diag_ids")
    if ids is not None:
        return ids[0], ids[1]
    n = config["node"]
    return (0x7E0 + n, 0x7E8 + n) if 0 <= n < 8 else None


class DiagEndpoint:
    def __init__(self, server, rx_id, tx_id, reset=None, tick=None):
        self.server = server
        self.rx_id = rx_id
        self.tx_id = tx_id
        self.reset = reset
        self.tick = tick
        self.conn = IsoTpConnection(IsoTpSender(padding=0xCC, n_bs_ms=_ISOTP_TIMEOUT_MS),
                                    IsoTpReceiver(BLOCK_LEN, padding=0xCC, n_cr_ms=_ISOTP_TIMEOUT_MS))
        self._queue = []
        self._out = []

    def on_frame(self, data, now):
        self.conn.on_frame(data, now)
        req = self.conn.pop_message()
        if req is not None:
            self._respond(self.server.handle(req, now))
        self._drain(now)

    def poll(self, now):
        self._respond(self.server.poll(now))
        self._drain(now)
        if self.server.reset_due and not self._queue and not self.conn.sender.busy() and not self._out:
            # Only once the caller has taken the response's frames out.
            self.server.reset_due = False
            self._reset()
        elif self.tick is not None and self.tick(now):
            self._reset()

    def _reset(self):
        if self.reset is not None:
            self.reset()

    def next_timer(self, now):
        t = self.server.next_timer(now)
        d = self.conn.next_deadline_ms()
        if d is not None and d < t:
            t = d
        if (self._queue or self.server.reset_due) and not self.conn.sender.busy():
            t = now
        return t

    def pop_frames(self):
        out = self._out
        self._out = []
        return out

    def _respond(self, resp):
        if resp is not None and len(self._queue) < _MAX_QUEUED:
            self._queue.append(resp)

    def _drain(self, now):
        if self._queue and not self.conn.sender.busy():
            self.conn.send(self._queue.pop(0), now)
        for frame in self.conn.poll(now):
            self._out.append((self.tx_id, bytes(frame), False))
        if self._queue and not self.conn.sender.busy():
            self._drain(now)
