# Updates of an ECU's agent while the virtual vehicle runs (`[[ota]]` in a
# scenario, docs/ota.md): the fleet backend builds an image for the ECU, a
# tester on the bus sends it with udsoncan (emulator.uds_tester) over the
# project's ISO-TP in virtual time, and the ECU reboots into the new slot.
#
#   [[ota]] ecu = "BRAKE", at_s = 3.0, version = "1.1.0"
#           attack = "tampered" | "foreign" | "replay" | "wrong_key"  (optional)
#
# An attack is an update that must be refused: a file byte flipped after the
# tag was made (0x72), an image tagged for another ECU (0x31), an older
# image validly made for this ECU (0x22), a wrong SecurityAccess key (0x35).
# The tester's connection runs the emulator's clock while udsoncan waits, so
# a whole update takes virtual time only.
import collections
import os

from udsoncan.connections import BaseConnection
from udsoncan.exceptions import NegativeResponseException, TimeoutException

from keyagent.isotp.connection import IsoTpConnection, IsoTpReceiver, IsoTpSender
from keyagent.ota import image as I
from keyagent.uds.endpoint import diag_ids
from keyagent.uds.security import diag_key

from emulator.clock import MS, S
from emulator.uds_tester import open_client, program

ATTACKS = ("tampered", "foreign", "replay", "wrong_key")
BOARD = "emulator"  # what an image for an emulated ECU names as its board
FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")
_files = []


def agent_files():
    # The agent's sources, as an image for an emulated ECU ships them.
    if not _files:
        top = os.path.join(FIRMWARE, "keyagent")
        for folder, dirs, names in os.walk(top):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for n in sorted(names):
                if n.endswith(".py") and n != "manifest.py":
                    path = os.path.join(folder, n)
                    with open(path, "rb") as f:
                        _files.append((os.path.relpath(path, FIRMWARE).replace(os.sep, "/"), f.read()))
    return list(_files)


class VirtualUdsConnection(BaseConnection):
    # A udsoncan connection on the emulated bus: ISO-TP by keyagent.isotp;
    # waiting for an answer runs the vehicle's clock (never past `timeout`
    # virtual seconds).
    def __init__(self, vehicle, req_id, resp_id, name="tester"):
        BaseConnection.__init__(self, name)
        self.clock = vehicle.clock
        self.req_id = req_id
        self.resp_id = resp_id
        self.node = vehicle.bus.attach(name, self._receive)
        vehicle.bus.set_filter(self.node, {resp_id})
        self.conn = IsoTpConnection(IsoTpSender(padding=0xCC, n_bs_ms=1000),
                                    IsoTpReceiver(4095, padding=0xCC, n_cr_ms=1000))
        self.rx = collections.deque()
        self.sent_at = []  # virtual time of each request, for throughput figures
        self._opened = False
        self._wake = None

    def now_ms(self):
        return self.clock.now // MS

    def open(self):
        self._opened = True
        return self

    def close(self):
        self._opened = False

    def is_open(self):
        return self._opened

    def empty_rxqueue(self):
        self.rx.clear()

    def specific_send(self, payload, timeout=None):
        self.sent_at.append(self.clock.now)
        self.conn.send(bytes(payload), self.now_ms())
        self._pump()

    def specific_wait_frame(self, timeout=None):
        end = self.clock.now + int((timeout or 1.0) * S)
        while not self.rx:
            t = self.clock.next_time()
            if t is None or t > end:
                self.clock.run_until(end)
                raise TimeoutException("no answer within %.3f s of virtual time" % (timeout or 1.0))
            self.clock.run_until(t)
        return self.rx.popleft()

    def _receive(self, frame, is_rx):
        if is_rx and frame.can_id == self.resp_id:
            self.conn.on_frame(frame.data, self.now_ms())
            msg = self.conn.pop_message()
            if msg is not None:
                self.rx.append(bytes(msg))
            self._pump()

    def _pump(self):
        now = self.now_ms()
        for frame in self.conn.poll(now):
            self.node.send(self.req_id, frame)
        d = self.conn.next_deadline_ms()
        if d is not None and self._wake is None:
            self._wake = self.clock.call_at(max(d, now + 1) * MS, self._timer)

    def _timer(self):
        self._wake = None
        self._pump()


class OtaJob:
    def __init__(self, vehicle, spec):
        self.vehicle = vehicle
        self.spec = spec
        self.ecu = spec["ecu"]
        self.attack = spec.get("attack")
        self.at_ns = int(spec.get("at_s", 1.0) * S)
        self.version = spec.get("version", "0.9.0" if self.attack == "replay" else "1.1.0")
        self.result = {"ecu": self.ecu, "at_s": spec.get("at_s", 1.0), "version": self.version,
                       "attack": self.attack, "result": None, "nrc": None, "service": None}

    def image(self, config):
        v = self.vehicle
        node = config["node"]
        target = node
        if self.attack == "foreign":  # the image the backend made for another ECU
            target = min(n for n in v.nodes.values() if n != node)
        data = I.build(agent_files(), self.version, BOARD, "py", target, v.ota_key_id,
                       I.update_key(v.ota_key, target, v.ota_key_id))
        if self.attack == "tampered":  # one byte of the first file, after the tag was made
            data = bytearray(data)
            data[I.head_length(data) + 10] ^= 0x01
            data = bytes(data)
        return data

    def run(self):
        v = self.vehicle
        ecu = v.ecus[self.ecu]
        config = ecu.config
        ids = diag_ids(config)
        k_diag = diag_key(bytes.fromhex(config["auth_key"]), config["node"])
        if self.attack == "wrong_key":
            k_diag = bytes(v.rng_for("ota-wrong-key").getrandbits(8) for _ in range(16))
        data = self.image(config)
        conn = VirtualUdsConnection(v, ids[0], ids[1], "tester-%s" % self.ecu)
        client = open_client(conn, k_diag, p2_s=1.0, p2_star_s=6.0, request_timeout_s=60.0)
        start = v.clock.now
        marks = []
        try:
            with client:
                program(client, data, lambda done, total: marks.append((v.clock.now, done)))
            self.result["result"] = "updated"
        except NegativeResponseException as e:
            self.result.update(result="refused", nrc="0x%02X" % e.response.code,
                               service=e.response.service.get_name())
        except TimeoutException:
            self.result["result"] = "timeout"
        finally:
            v.bus.detach(conn.node)
        r = self.result
        r["bytes"] = marks[-1][1] if marks else 0
        r["duration_s"] = (v.clock.now - start) / S
        if len(marks) > 1:  # TransferData only: from the first block's answer to the last one's
            r["transfer_bytes_per_s"] = (marks[-1][1] - marks[0][1]) * S / max(1, marks[-1][0] - marks[0][0])
        return r
