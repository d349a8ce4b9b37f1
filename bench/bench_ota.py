# TransferData throughput of an update over ISO-TP on a 500 kbit/s classic
# CAN bus, in virtual time: udsoncan (emulator.uds_tester) over the
# emulator's tester connection, the firmware's OTA service on the other end,
# nothing else on the bus.
#   ota_bytes_per_s:   image bytes per second of virtual time, from the
#                      first TransferData answer to the last one
#   ota_vs_bus_limit:  that against the bus's own limit for those frames:
#                      the same bytes if the consecutive frames that carried
#                      them (their real lengths and stuff bits) had gone back
#                      to back; the goal is at least 0.8
import os
import random

from emulator.bus import CanBus
from emulator.clock import MS, S, Clock
from emulator.ota import VirtualUdsConnection, agent_files
from emulator.uds_tester import open_client, program
from keyagent.agent import KeyAgent
from keyagent.ota import image as I
from keyagent.ota.service import diag_service
from keyagent.storage import MemoryStorage
from keyagent.uds.security import diag_key
from keyagent.unix.memfs import MemoryFs

NODE = 3
K_AUTH = bytes(range(16))
QKD_KEY = bytes(range(32, 64))
KEY_ID = "bench"
CLUSTERS = [{"id": 1, "members": [0, NODE], "pdus": [
    {"name": "m", "can_id": 0x103, "data_id": 0x103, "length": 4, "profile": 1, "fv_bits": 32, "sender": NODE}]}]


class BareBus:
    # What VirtualUdsConnection needs of a vehicle: a clock and a bus.
    def __init__(self):
        self.clock = Clock()
        self.bus = CanBus(self.clock, random.Random(1), 500000, 2000000)


class Ecu:
    # The ECU's OTA service on the bus, serviced like emulator.ecu does.
    def __init__(self, v):
        self.clock = v.clock
        config = {"node": NODE, "role": "slave", "module": False, "auth_key": K_AUTH.hex(), "clusters": CLUSTERS,
                  "ota_keys": {KEY_ID: I.update_key(QKD_KEY, NODE, KEY_ID).hex()}}
        self.ep = diag_service(config, KeyAgent(config, MemoryStorage()), MemoryFs(), os.urandom, lambda: None,
                               None, "1.0.0", "emulator", "py")
        self.node = v.bus.attach("ecu", self.receive)
        v.bus.set_filter(self.node, {self.ep.rx_id})
        self.wake = None

    def now(self):
        return self.clock.now // MS

    def receive(self, frame, is_rx):
        if is_rx:
            self.ep.on_frame(frame.data, self.now())
            self.service()

    def poll(self):
        self.wake = None
        self.ep.poll(self.now())
        self.service()

    def service(self):
        for can_id, data, fd in self.ep.pop_frames():
            self.node.send(can_id, data)
        t = max(self.ep.next_timer(self.now()), self.now() + 1)
        if self.wake is None or self.wake[0] > t * MS:
            if self.wake is not None:
                self.clock.cancel(self.wake)
            self.wake = self.clock.call_at(t * MS, self.poll)


def main():
    v = BareBus()
    ecu = Ecu(v)
    image = I.build(agent_files(), "1.1.0", "emulator", "py", NODE, KEY_ID, I.update_key(QKD_KEY, NODE, KEY_ID))
    conn = VirtualUdsConnection(v, ecu.ep.rx_id, ecu.ep.tx_id)
    marks = []
    cf_ns = []  # bus time of every consecutive frame the tester sent

    def monitor(frame):
        if frame.can_id == ecu.ep.rx_id and frame.data[0] >> 4 == 2 and len(marks) >= 1:
            cf_ns.append(v.bus.duration_ns(frame))

    v.bus.monitors.append(monitor)
    with open_client(conn, diag_key(K_AUTH, NODE)) as client:
        program(client, image, lambda done, total: marks.append((v.clock.now, done)))
    rate = (marks[-1][1] - marks[0][1]) * S / (marks[-1][0] - marks[0][0])
    limit = (marks[-1][1] - marks[0][1]) * S / sum(cf_ns)
    print("BENCH ota_bytes_per_s %.0f B/s" % rate)
    print("BENCH ota_vs_bus_limit %.3f ratio" % (rate / limit))


main()
