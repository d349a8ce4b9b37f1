# One module pair, two interfaces kept apart: a key a roadside unit draws over
# ETSI GS QKD 014 REST (a third-party client from PyPI) cannot be fetched by
# ID over the UART link, and a key the vehicle's master ECU draws over the
# UART (its ID travels in clear in the ANNOUNCE frame) cannot be fetched by
# the REST slave SAE. Each is still there for its own consumer.
import base64
import uuid

import pytest

from emulator.certs import make_certs
from emulator.kme_rest import KmeServer
from emulator.module_uart_server import ModuleUartServer
from emulator.qkd_pair import ModulePair
from host_tools.commands.module_console import open_link

MASTER, SLAVE = "roadside-1", "vehicle-7"


@pytest.fixture
def both(tmp_path):
    from etsi_qkd_014_client import QKD014Client

    pki = make_certs(str(tmp_path), [MASTER, SLAVE])
    pair = ModulePair(seed=9, max_key_count=20)
    pair.fill()
    kme = KmeServer(pair, pki["ca"], pki["kme_cert"], pki["kme_key"], MASTER, SLAVE).start()
    uart = ModuleUartServer(pair, tcp_port=0).start()
    rest = {sae: QKD014Client("localhost:%d" % kme.port, pki[sae + ".crt"], pki[sae + ".key"], pki["ca"])
            for sae in (MASTER, SLAVE)}
    yield pair, rest, uart
    uart.stop()
    kme.stop()


def key_bytes(k):
    return base64.b64decode(k.key, validate=True)  # the Key container carries base64


def test_rest_key_is_not_reachable_over_the_uart(both):
    pair, rest, uart = both
    code, container = rest[MASTER].get_key(SLAVE, number=1, size=256)
    assert code == 200
    key_id = uuid.UUID(container.keys[0].key_id).bytes
    link = open_link(uart.ends["B"]["tcp"], 115200, 1000, 2)
    try:
        r = link.get_key_by_id(key_id)
    finally:
        link.port.ser.close()
    assert r.status == 0x80 and r.key is None  # key ID unknown on the in-vehicle link
    code, fetched = rest[SLAVE].get_key_with_key_IDs(MASTER, [container.keys[0].key_id])
    assert code == 200 and key_bytes(fetched.keys[0]) == key_bytes(container.keys[0])


def test_uart_key_is_not_reachable_over_rest(both):
    pair, rest, uart = both
    link = open_link(uart.ends["A"]["tcp"], 115200, 1000, 2)
    try:
        r = link.get_new_key(256)
    finally:
        link.port.ser.close()
    assert r.status == 0
    code, refused = rest[SLAVE].get_key_with_key_IDs(MASTER, [str(uuid.UUID(bytes=r.key_id))])
    assert code == 400 and refused.message and "key" not in vars(refused)
    link = open_link(uart.ends["B"]["tcp"], 115200, 1000, 2)
    try:
        fetched = link.get_key_by_id(r.key_id)
    finally:
        link.port.ser.close()
    assert fetched.status == 0 and bytes(fetched.key) == bytes(r.key)
