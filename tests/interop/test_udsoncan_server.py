# The firmware's UDS server against the automotive ecosystem's own tester:
# udsoncan over can-isotp (PyPI) on python-can's virtual bus. Every service
# and every negative response code the server documents, seen through
# udsoncan's client, plus the update key against the `cryptography`
# package's own SP 800-108 KDF.
import itertools

import isotp
import pytest
import udsoncan
from cryptography.hazmat.primitives.ciphers import algorithms
from cryptography.hazmat.primitives.kdf.kbkdf import CounterLocation, KBKDFCMAC, Mode
from udsoncan.connections import PythonIsoTpConnection
from udsoncan.exceptions import NegativeResponseException
from udsoncan.services import ECUReset, ReadDTCInformation, TesterPresent

from emulator.uds_tester import open_client, program, read_info
from keyagent.ota import image as I
from keyagent.uds.security import diag_key
from uds_bus_ecu import BusEcu, node_config

NODE = 3
K_AUTH = bytes(range(16, 32))
QKD_KEY = bytes(range(64, 96))
KEY_ID = "fleet-key-0001"
K_UPDATE = I.update_key(QKD_KEY, NODE, KEY_ID)
_channels = itertools.count()


def image(version, node=NODE, tamper=False):
    files = [("keyagent/__init__.py", b"# agent %s\n" % version.encode()),
             ("keyagent/x.py", bytes(range(256)) * 12)]
    img = bytearray(I.build(files, version, "unix", "py", node, KEY_ID, I.update_key(QKD_KEY, node, KEY_ID)))
    if tamper:
        img[-3] ^= 1
    return bytes(img)


@pytest.fixture
def rig():
    channel = "uds-%d" % next(_channels)
    config = node_config(NODE, K_AUTH, {KEY_ID: K_UPDATE})
    with BusEcu({"interface": "virtual", "channel": channel}, config) as ecu:
        bus = __import__("can").Bus(interface="virtual", channel=channel)
        stack = isotp.CanStack(bus, address=isotp.Address(isotp.AddressingMode.Normal_11bits, txid=0x7E3,
                                                          rxid=0x7EB),
                               params={"tx_padding": 0xCC, "blocking_send": True})
        conn = PythonIsoTpConnection(stack)
        clients = []

        def client(k_diag=diag_key(K_AUTH, NODE)):
            c = open_client(conn, k_diag, p2_s=2.0, request_timeout_s=10.0)
            clients.append(c)
            return c

        with client() as c:
            yield ecu, c, client
        bus.shutdown()


def nrc(fn, *args, **kwargs):
    with pytest.raises(NegativeResponseException) as e:
        fn(*args, **kwargs)
    return e.value.response.code


def test_update_with_udsoncan_then_read_the_identifiers(rig):
    ecu, c, _ = rig
    assert read_info(c) == {"version": "1.0.0", "boot": "qkd-secoc boot 1", "slot": "factory",
                            "epoch": None, "floor": 1000000}
    done = []
    program(c, image("1.1.0"), lambda n, total: done.append((n, total)))
    assert done[-1][0] == done[-1][1] and len(done) >= 3
    assert ecu.ep.server.updater.store.record == {"active": None, "floor": 0, "trial": "a", "boots": 0}
    assert ecu.ep.server.nrcs.get(0x78) == 3  # erase, check and activate answered "pending" first
    import time

    for _ in range(200):  # the ECUReset goes through once its response is out
        if ecu.resets:
            break
        time.sleep(0.01)
    assert ecu.resets == 1


def test_session_reset_and_tester_present(rig):
    _, c, _ = rig
    assert c.change_session(3).positive
    assert c.tester_present().positive
    assert c.ecu_reset(ECUReset.ResetType.softReset).positive
    assert nrc(c.ecu_reset, ECUReset.ResetType.keyOffOnReset) == 0x12
    assert nrc(c.change_session, 0x40) == 0x12
    assert nrc(c.send_request, udsoncan.Request(service=TesterPresent, subfunction=0, data=b"\x00")) == 0x13
    assert nrc(c.send_request, udsoncan.Request(service=ReadDTCInformation, subfunction=2, data=b"\xff")) == 0x11


def test_read_unknown_identifier(rig):
    _, c, _ = rig
    c.config["data_identifiers"][0x1234] = c.config["data_identifiers"][0xF195]
    assert nrc(c.read_data_by_identifier, 0x1234) == 0x31


def test_security_access_nrcs(rig):
    ecu, c, client = rig
    assert nrc(c.start_routine, 0xFF00) == 0x7F  # default session
    c.change_session(2)
    assert nrc(c.start_routine, 0xFF00) == 0x33  # locked
    assert nrc(c.send_key, 1, bytes(16)) == 0x24  # no seed asked
    wrong = client(bytes(16))
    assert nrc(wrong.unlock_security_access, 1) == 0x35
    assert nrc(wrong.unlock_security_access, 1) == 0x35
    assert nrc(wrong.unlock_security_access, 1) == 0x36
    assert nrc(c.unlock_security_access, 1) == 0x37  # the delay runs, even for the right key
    ecu.ep.server.security._locked_until = 0  # the 10 s delay, passed
    assert c.unlock_security_access(1).positive


def test_download_and_routine_nrcs(rig):
    ecu, c, _ = rig
    c.change_session(2)
    c.unlock_security_access(1)
    assert nrc(c.start_routine, 0x1234) == 0x31
    assert nrc(c.start_routine, 0x0202) == 0x24  # check before a download
    loc = udsoncan.MemoryLocation(address=0, memorysize=100, address_format=32, memorysize_format=32)
    assert nrc(c.request_download, loc) == 0x22  # not erased
    assert nrc(c.transfer_data, 1, b"x") == 0x24
    assert nrc(c.request_transfer_exit) == 0x24
    c.start_routine(0xFF00)
    img = image("1.1.0")
    loc = udsoncan.MemoryLocation(address=0, memorysize=len(img), address_format=32, memorysize_format=32)
    assert c.request_download(loc).service_data.max_length == 0x402
    blocks = [img[i:i + 1000] for i in range(0, len(img), 1000)]
    assert nrc(c.transfer_data, 2, blocks[0]) == 0x73
    c.transfer_data(1, blocks[0])
    assert nrc(c.ecu_reset, ECUReset.ResetType.hardReset) == 0x22  # mid-download
    for i, block in enumerate(blocks[1:-1]):
        c.transfer_data(i + 2, block)
    assert nrc(c.transfer_data, len(blocks), blocks[-1] + b"!") == 0x71


@pytest.mark.parametrize("img, code", [(image("1.1.0", tamper=True), 0x72), (image("1.1.0", node=4), 0x31),
                                       (image("0.9.0"), 0x22)])
def test_refused_images(rig, img, code):
    _, c, _ = rig
    assert nrc(program, c, img) == code


def test_update_key_matches_the_cryptography_kdf():
    kdf = KBKDFCMAC(algorithm=algorithms.AES, mode=Mode.CounterMode, length=16, rlen=4, llen=4,
                    location=CounterLocation.BeforeFixed, label=I.UPDATE_LABEL,
                    context=bytes((0, NODE)) + KEY_ID.encode(), fixed=None)
    assert kdf.derive(QKD_KEY[:16]) == K_UPDATE
