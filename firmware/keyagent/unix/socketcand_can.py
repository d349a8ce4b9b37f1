# The CAN adapter that keyagent.node.Node drives, over a socketcand raw-mode
# connection (keyagent.unix.socketcand_client): send(can_id, data, fd) and
# recv(timeout_ms) -> (can_id, data) or None. Standard (11-bit) frames only:
# the key agent has no extended identifiers, so those are skipped.
from keyagent.unix import socketcand as sc

_MAX_SKIP = 16  # non-frame elements skipped per recv(), then it returns None


class SocketcandCan:
    def __init__(self, client):
        self.client = client
        self.skipped = 0  # extended frames and other elements not for us

    def send(self, can_id, data, fd=False):
        self.client.send(can_id, data, False, fd, sc.FLAG_BRS if fd else 0)

    def recv(self, timeout_ms):
        c = self.client
        ev = c.recv(timeout_ms)
        for _ in range(_MAX_SKIP):
            if ev == sc.EV_NONE:
                return None
            p = c.parser
            if ev == sc.EV_FRAME and not p.ext:
                return (p.can_id, bytes(p.data[:p.length]))
            self.skipped += 1
            ev = c.recv(0)
        return None
