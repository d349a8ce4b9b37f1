# The board entry point (keyagent.board.main) against fakes shaped after
# MicroPython's pyb.CAN, machine.UART and machine.WDT: it reads board.json
# and agent.json, counts boots in flash, talks on CAN and to the module
# UART, feeds the watchdog and says what it does on the console.
import json

from fake_can import make_pyb
from fwtest import board
from keyagent.board.main import app_rejections, start
from keyagent.status import parse_status

DIR = "/tmp/qkd_secoc_board_test_"
AUTH = "000102030405060708090a0b0c0d0e0f"
CLUSTERS = [{"id": 1, "members": [0, 1], "pdus": [
    {"name": "m0", "can_id": 0x100, "data_id": 0x100, "length": 4, "profile": 1, "fv_bits": 32, "sender": 0},
    {"name": "m1", "can_id": 0x101, "data_id": 0x101, "length": 4, "profile": 1, "fv_bits": 32, "sender": 1}]}]


class Clock:
    def __init__(self):
        self.t = 1000

    def ticks_ms(self):
        self.t += 1  # every look at the clock moves it on: the loop ends
        return self.t & 0x3FFFFFFF


class Uart:
    def __init__(self, uid, baudrate, timeout=0):
        self.uid = uid
        self.baudrate = baudrate
        self.written = bytearray()

    def any(self):
        return 0

    def readinto(self, buf, n=None):
        return 0

    def write(self, data):
        self.written += bytes(data)
        return len(data)


class Wdt:
    feeds = 0

    def __init__(self, timeout):
        self.timeout = timeout

    def feed(self):
        Wdt.feeds += 1


class Machine:
    def __init__(self):
        self.uarts = []

    def UART(self, uid, baudrate, timeout=0):
        u = Uart(uid, baudrate, timeout)
        self.uarts.append(u)
        return u

    WDT = Wdt


def files(tag, agent):
    paths = (DIR + tag + "_board.json", DIR + tag + "_agent.json", DIR + tag + "_state.json")
    with open(paths[0], "w") as f:
        json.dump(board("NUCLEO_F446RE"), f)
    if agent is not None:
        with open(paths[1], "w") as f:
            json.dump(agent, f)
    try:
        import os

        os.remove(paths[2])
    except OSError:
        pass
    return paths


def boot(paths, machine=None, ms=300):
    lines = []
    pyb = make_pyb(False)
    node = start(machine or Machine(), pyb, Clock(), lines.append, ms, *paths, schedule=lambda f, a: None)
    return node, lines, pyb.CAN.made[-1] if pyb.CAN.made else None


def test_a_gateway_slave_boots_joins_and_counts_its_boots():
    paths = files("slave", {"node": 1, "role": "slave", "module": False, "auth_key": AUTH, "clusters": CLUSTERS})
    node, lines, can = boot(paths)
    assert lines[0] == "keyagent: boot board=NUCLEO_F446RE role=slave boot=1"
    assert [f for f in can.sent if f[0] == 0x741]  # JOIN towards the master
    assert "keyagent: secoc epoch=- verified=0 rejected=0" in lines
    _, lines, _ = boot(paths)
    assert lines[0] == "keyagent: boot board=NUCLEO_F446RE role=slave boot=2"  # from flash


def test_a_master_asks_its_module_for_a_key_and_feeds_the_watchdog():
    slaves = [{"node": 1, "module": False, "auth_key": AUTH}]
    paths = files("master", {"node": 0, "role": "master", "module": True, "slaves": slaves, "clusters": CLUSTERS})
    machine = Machine()
    feeds = Wdt.feeds
    node, lines, can = boot(paths, machine)
    assert lines[0].startswith("keyagent: boot board=NUCLEO_F446RE role=master")
    uart = machine.uarts[0]
    assert (uart.uid, uart.baudrate) == (3, 115200)  # board.json's module UART
    assert len(uart.written) > 8 and uart.written[-1] == 0  # a COBS frame: GET_NEW_KEY
    assert Wdt.feeds > feeds


def test_without_agent_json_it_says_what_to_do():
    paths = files("none", None)
    try:
        import os

        os.remove(paths[1])
    except OSError:
        pass
    node, lines, _ = boot(paths)
    assert node is None
    assert lines == ["keyagent: error no %s (the node): run qkd-secoc provision" % paths[1]]


def test_rekey_lines_and_rejection_counts():
    assert app_rejections(parse_status("status rejected=-")["rejected"]) == 0
    assert app_rejections(parse_status("status rejected=mac_mismatch:3,rekey_stale:2,she_refused:1,no_key:4")["rejected"]) == 7
