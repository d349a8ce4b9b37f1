# The key network over ETSI GS QKD 014 with mutual TLS, one HTTPS port per
# KME: a vehicle draws a key at the depot's KME for a roadside unit, the
# roadside unit fetches it by ID at its own KME; any other SAE gets the ETSI
# Error (401 at a KME that does not serve it, 400 for a key ID not issued to
# its pair), and a third-party ETSI 014 client works against it.
import base64
import http.client
import json
import os
import ssl
import uuid

import pytest

from emulator.certs import make_certs
from emulator.key_network import KeyNetwork
from emulator.key_network_kme import serve_network
from emulator.key_network_spec import load
from mpy_interpreter import ROOT

NETWORK = os.path.join(ROOT, "scenarios", "network.toml")


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    spec = load(NETWORK)
    net = KeyNetwork(spec)
    saes = sorted(net.kme_of)
    pki = make_certs(str(tmp_path_factory.mktemp("net-pki")), saes)
    servers = serve_network(net, pki)
    yield net, pki, servers
    for server in servers.values():
        server.stop()


def call(served, kme, sae, method, path, body=None):
    net, pki, servers = served
    ctx = ssl.create_default_context(cafile=pki["ca"])
    ctx.load_cert_chain(pki[sae + ".crt"], pki[sae + ".key"])
    conn = http.client.HTTPSConnection("127.0.0.1", servers[kme].port, context=ctx, timeout=10)
    try:
        conn.request(method, path, body=None if body is None else json.dumps(body),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


def test_vehicle_key_reaches_the_roadside_unit_and_nobody_else(served):
    status, doc = call(served, "depot", "vehicle-1", "GET", "/api/v1/keys/rsu-3/enc_keys?number=2")
    assert status == 200 and len(doc["keys"]) == 2
    first, second = doc["keys"]
    # Another roadside unit at its KME, the right one at the wrong KME, another vehicle.
    status, err = call(served, "kme-rsu-4", "rsu-4", "GET", "/api/v1/keys/vehicle-1/dec_keys?key_ID=%s"
                       % first["key_ID"])
    assert status == 400 and err["message"] and "keys" not in err
    status, err = call(served, "depot", "rsu-3", "GET", "/api/v1/keys/vehicle-1/dec_keys?key_ID=%s"
                       % first["key_ID"])
    assert status == 401 and err["message"]
    status, _ = call(served, "kme-rsu-3", "rsu-3", "GET", "/api/v1/keys/vehicle-2/dec_keys?key_ID=%s"
                     % first["key_ID"])
    assert status == 400
    status, got = call(served, "kme-rsu-3", "rsu-3", "POST", "/api/v1/keys/vehicle-1/dec_keys",
                       {"key_IDs": [{"key_ID": first["key_ID"]}, {"key_ID": second["key_ID"]}]})
    assert status == 200 and got["keys"] == [first, second]


def test_status_names_both_kmes_and_unknown_saes_get_400(served):
    status, doc = call(served, "depot", "vehicle-2", "GET", "/api/v1/keys/rsu-1/status")
    assert status == 200 and doc["source_KME_ID"] == "depot" and doc["target_KME_ID"] == "kme-rsu-1"
    assert doc["status_extension"]["link_state"] == "up" and doc["stored_key_count"] > 0
    assert call(served, "depot", "vehicle-2", "GET", "/api/v1/keys/nobody/status")[0] == 400
    assert call(served, "depot", "vehicle-2", "GET", "/api/v1/keys/vehicle-2/enc_keys")[0] == 400


def test_third_party_etsi_client_across_the_network(served):
    from etsi_qkd_014_client import QKD014Client

    net, pki, servers = served
    vehicle = QKD014Client("localhost:%d" % servers["depot"].port, pki["vehicle-3.crt"],
                           pki["vehicle-3.key"], pki["ca"])
    backend = QKD014Client("localhost:%d" % servers["backend"].port, pki["fleet-backend.crt"],
                           pki["fleet-backend.key"], pki["ca"])
    code, container = vehicle.get_key("fleet-backend", number=1, size=512)
    assert code == 200
    code, fetched = backend.get_key_with_key_IDs("vehicle-3", [container.keys[0].key_id])
    assert code == 200
    assert base64.b64decode(fetched.keys[0].key) == base64.b64decode(container.keys[0].key)
    assert len(base64.b64decode(fetched.keys[0].key)) == 64
    assert uuid.UUID(fetched.keys[0].key_id).version == 4


def test_vehicle_stocks_at_the_depot_over_etsi_014(served):
    from emulator.key_network_depot import client_context, stock_vehicle
    from keyagent.keystore.store import KeyStore

    net, pki, servers = served
    store = KeyStore(bytes(16), capacity=16)
    ctx = client_context(pki["ca"], pki["vehicle-2.crt"], pki["vehicle-2.key"])
    net.set_eavesdrop("node-3", "kme-rsu-4", 0.5)  # rsu-4's only link in alarm
    try:
        added, refused = stock_vehicle(store, "localhost", servers["depot"].port, ctx,
                                       ["rsu-1", "rsu-2", "rsu-4", "nobody"], 3)
    finally:
        net.set_eavesdrop("node-3", "kme-rsu-4", 0.0)
    assert added == {"rsu-1": 3, "rsu-2": 3, "rsu-4": 0, "nobody": 0}
    assert refused["rsu-4"].status == 503 and refused["nobody"].status == 400
    assert store.count("rsu-1") == 3 and store.count("rsu-4") == 0
    key_id, key = store.take("rsu-2")
    status, got = call(served, "kme-rsu-2", "rsu-2", "GET", "/api/v1/keys/vehicle-2/dec_keys?key_ID=%s"
                       % uuid.UUID(bytes=key_id))
    assert status == 200 and base64.b64decode(got["keys"][0]["key"]) == bytes(key)
