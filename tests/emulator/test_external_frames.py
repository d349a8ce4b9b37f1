# Frames from outside the scenario's own ECUs (a python-can tool on the bus
# server, a VirtualBridge) are counted as external, by the verdict the ECUs
# gave them, never as the vehicle's authentic traffic; and frames a client
# sent just before it disconnected still reach the bus.
import threading

import can

from emulator import scenario
from emulator.bus_server import BusServer
from emulator.clock import MS, S
from emulator.pycan_bridge import VirtualBridge
from emulator.report import progress_line, summary_text
from emulator.vehicle import Vehicle

BRAKE = 0x0B0  # BrakePedal: ABS -> GATEWAY, PCM, ADAS (all in process here)


def vehicle():
    raw = scenario.read(scenario.DEFAULT)
    raw.update(duration_s=4, attack=[], eavesdrop=[], fault=[])
    return Vehicle(scenario.validate(raw, "default.toml", "scenarios"), inline_only=True)


def forged_and_replayed(frame):
    forged = bytearray(frame)
    forged[0] ^= 0x40
    return bytes(forged), bytes(frame)


def check(v, summary):
    assert summary["external_frames"] == 2
    assert summary["external_accepted"] == 0
    # one verdict per receiving ECU: GATEWAY, PCM and ADAS
    assert summary["external_rejected_by_reason"] == {"mac_mismatch": 3, "stale_freshness": 3}
    assert summary["external_rejected"] == 6
    assert summary["authentic_rejected"] == 0 and summary["frames_verified"] > 1000
    assert "external 2 (rejected 6, accepted 0)" in progress_line(v)
    assert "external frames: 2 (from outside the scenario), 0 accepted, rejected: mac_mismatch 3, " \
           "stale_freshness 3" in summary_text(summary)


def test_frames_from_a_virtual_bridge_are_external():
    v = vehicle()
    bridge = VirtualBridge(v.bus, channel="external-test")
    tool = can.Bus(interface="virtual", channel="external-test")
    try:
        v.clock.run_until(2 * S)
        genuine = None
        while True:
            msg = tool.recv(0)
            if msg is None:
                break
            if msg.arbitration_id == BRAKE:
                genuine = msg.data
        for data in forged_and_replayed(genuine):
            tool.send(can.Message(arbitration_id=BRAKE, data=data, is_extended_id=False))
        check(v, v.run())
    finally:
        tool.shutdown()
        bridge.close()


def test_frames_from_a_bus_server_client_are_external_even_after_it_left():
    v = vehicle()
    server = BusServer(v.bus, port=0)
    sent = threading.Event()

    def client():
        with can.Bus(interface="qkd_socketcand", host="127.0.0.1", port=server.port, channel="can0") as bus:
            for _ in range(2000):
                msg = bus.recv(5.0)
                if msg is not None and msg.arbitration_id == BRAKE:
                    break
            for data in forged_and_replayed(msg.data):
                bus.send(can.Message(arbitration_id=BRAKE, data=data, is_extended_id=False))
        sent.set()  # gone at once, its frames perhaps still queued

    thread = threading.Thread(target=client, daemon=True)
    thread.start()
    try:
        for _ in range(4000):  # the clock in 1 ms steps while the client works (bounded)
            v.clock.run_until(v.clock.now + MS)
            server.poll(0.001)
            if sent.is_set():
                break
        thread.join(5)
        for _ in range(20):
            server.poll(0.001)
        check(v, v.run())
    finally:
        server.close()
