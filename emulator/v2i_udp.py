# The simulated V2X radio for V2I sessions: UDP datagrams on 127.0.0.1. A
# roadside unit answers HELLOs (emulator.v2i.RoadsideHandshakes) and, inside
# an established session, acknowledges each DATA message with a sealed
# "ack " + its plaintext. The vehicle side is handshake() and exchange().
import socket
import threading

from emulator import v2i

MAX_DATAGRAM = 4096
MAX_SESSIONS = 256


class RoadsideUdp:
    """A roadside unit's V2X endpoint on 127.0.0.1 (port 0: any free port)."""

    def __init__(self, handshakes, host="127.0.0.1", port=0):
        self.handshakes = handshakes
        self.sessions = {}  # key ID -> Session, newest last
        self.rejected = 0
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self._sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rsu-v2x", daemon=True)

    @property
    def address(self):
        return self._sock.getsockname()

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        self._sock.close()

    def _run(self):
        while not self._stop.is_set():
            try:
                data, peer = self._sock.recvfrom(MAX_DATAGRAM)
            except socket.timeout:
                continue
            except OSError:
                return
            reply = self.handle(data)
            if reply is not None:
                self._sock.sendto(reply, peer)

    def handle(self, data):
        """The reply to one datagram (None: dropped and counted)."""
        if len(data) >= 2 and data[1] == v2i.HELLO:
            reply, session = self.handshakes.on_hello(data)
            if session is not None:
                self.sessions[session.key_id] = session
                if len(self.sessions) > MAX_SESSIONS:
                    del self.sessions[next(iter(self.sessions))]
            return reply
        session = self.sessions.get(bytes(data[2:2 + v2i.ID_LEN]))
        if session is None:
            self.rejected += 1
            return None
        try:
            return session.seal(b"ack " + session.open(data))
        except v2i.V2IError:
            self.rejected += 1
            return None


def handshake(address, vehicle, timeout=2.0):
    """Run a VehicleHandshake with the RSU at `address`: (socket, Session);
    V2IError if refused, OSError/timeout if nobody answers."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        sock.send(vehicle.hello())
        return sock, vehicle.on_reply(sock.recv(MAX_DATAGRAM))
    except BaseException:
        sock.close()
        raise


def exchange(sock, session, plaintext):
    """Send one sealed message, return the RSU's opened answer."""
    sock.send(session.seal(plaintext))
    return session.open(sock.recv(MAX_DATAGRAM))
