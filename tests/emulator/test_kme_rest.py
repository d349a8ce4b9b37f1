# The ETSI GS QKD 014 server over real mutual TLS on 127.0.0.1: the three
# calls with GET and POST, the Status / Key container / Error JSON, the
# 400 / 401 / 503 answers, TLS refusal of clients without a certificate or
# with one from another CA, and bad input that must not hurt the server.
# A third-party client from PyPI (etsi-qkd-014-client) draws matching keys
# as master and slave.
import base64
import http.client
import json
import socket
import ssl
import time
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.certs import make_certs
from emulator.kme_rest import MAX_BODY, KmeServer
from emulator.qkd_pair import ModulePair

MASTER, SLAVE, OTHER = "roadside-1", "vehicle-7", "intruder"
STATUS_FIELDS = {"source_KME_ID", "target_KME_ID", "master_SAE_ID", "slave_SAE_ID", "key_size",
                 "stored_key_count", "max_key_count", "max_key_per_request", "max_key_size",
                 "min_key_size", "max_SAE_ID_count", "status_extension"}


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("pki")), [MASTER, SLAVE, OTHER])


@pytest.fixture(scope="module")
def other_pki(tmp_path_factory):
    return make_certs(str(tmp_path_factory.mktemp("other-pki")), [MASTER])


@pytest.fixture
def pair():
    p = ModulePair(seed=3, max_key_count=200)
    p.fill()
    return p


@pytest.fixture
def server(pki, pair):
    srv = KmeServer(pair, pki["ca"], pki["kme_cert"], pki["kme_key"], MASTER, SLAVE).start()
    yield srv
    srv.stop()


def client_context(pki, sae=None, ca=None):
    ctx = ssl.create_default_context(cafile=(ca or pki)["ca"])
    if sae is not None:
        ctx.load_cert_chain(pki[sae + ".crt"], pki[sae + ".key"])
    return ctx


def connect(server, pki, sae, host="127.0.0.1"):
    return http.client.HTTPSConnection(host, server.port, context=client_context(pki, sae), timeout=10)


def call(conn, method, path, body=None, raw=None, headers=None):
    hdrs = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    resp = conn.getresponse()
    payload = resp.read()
    assert resp.getheader("Content-Type") == "application/json"
    return resp.status, json.loads(payload)


def keys_of(doc):
    return [(k["key_ID"], base64.b64decode(k["key"], validate=True)) for k in doc["keys"]]


def drain(sock):
    reply = b""
    try:
        while True:
            chunk = sock.recv(4096)
            if not chunk:
                return reply
            reply += chunk
    except ConnectionError:  # the server may reset a connection it refused
        return reply


def wait_for(predicate):
    # Bounded wait for the server thread to record something (not a timing assertion).
    for _ in range(200):
        if predicate():
            return True
        time.sleep(0.01)
    return False


def test_status_has_exactly_the_standard_fields(server, pki, pair):
    status, doc = call(connect(server, pki, MASTER), "GET", "/api/v1/keys/%s/status" % SLAVE)
    assert status == 200
    assert set(doc) == STATUS_FIELDS
    assert doc["master_SAE_ID"] == MASTER and doc["slave_SAE_ID"] == SLAVE
    assert doc["source_KME_ID"] == "KME_A" and doc["target_KME_ID"] == "KME_B"
    assert doc["key_size"] == 256 and doc["stored_key_count"] == 200 and doc["max_key_count"] == 200
    assert doc["max_key_per_request"] == 128 and doc["min_key_size"] == 64 and doc["max_key_size"] == 8192
    assert doc["max_SAE_ID_count"] == 0
    assert doc["status_extension"]["link_state"] == "up" and doc["status_extension"]["alarm"] is False
    # The slave may ask too, naming its master.
    status, doc = call(connect(server, pki, SLAVE), "GET", "/api/v1/keys/%s/status" % MASTER)
    assert status == 200 and doc["master_SAE_ID"] == MASTER


def test_enc_keys_get_then_dec_keys_get_give_the_same_key_once(server, pki):
    master, slave = connect(server, pki, MASTER), connect(server, pki, SLAVE)
    status, doc = call(master, "GET", "/api/v1/keys/%s/enc_keys?number=3&size=128" % SLAVE)
    assert status == 200 and set(doc) == {"keys"} and len(doc["keys"]) == 3
    keys = keys_of(doc)
    assert all(len(k) == 16 and uuid.UUID(i).version == 4 for i, k in keys)
    for key_id, key in keys:
        status, doc = call(slave, "GET", "/api/v1/keys/%s/dec_keys?key_ID=%s" % (MASTER, key_id))
        assert status == 200 and keys_of(doc) == [(key_id, key)]
    status, doc = call(slave, "GET", "/api/v1/keys/%s/dec_keys?key_ID=%s" % (MASTER, keys[0][0]))
    assert status == 400 and "message" in doc


def test_enc_keys_post_then_dec_keys_post(server, pki, pair):
    master, slave = connect(server, pki, MASTER), connect(server, pki, SLAVE)
    status, doc = call(master, "POST", "/api/v1/keys/%s/enc_keys" % SLAVE,
                       {"number": 2, "size": 512, "extension_optional": [{"x": 1}]})
    assert status == 200
    keys = keys_of(doc)
    assert [len(k) for _, k in keys] == [64, 64]
    assert pair.status()["stored_key_count"] == 200 - 4
    status, doc = call(slave, "POST", "/api/v1/keys/%s/dec_keys" % MASTER,
                       {"key_IDs": [{"key_ID": i} for i, _ in reversed(keys)]})
    assert status == 200 and keys_of(doc) == list(reversed(keys))
    # Defaults: one key of key_size bits.
    status, doc = call(master, "POST", "/api/v1/keys/%s/enc_keys" % SLAVE, {})
    assert status == 200 and [len(k) for _, k in keys_of(doc)] == [32]


def test_connection_is_reused(server, pki):
    conn = connect(server, pki, MASTER)
    call(conn, "GET", "/api/v1/keys/%s/status" % SLAVE)
    sock = conn.sock
    for _ in range(5):
        assert call(conn, "GET", "/api/v1/keys/%s/enc_keys" % SLAVE)[0] == 200
    assert conn.sock is sock


@pytest.mark.parametrize("path", [
    "/api/v1/keys/%s/enc_keys?size=100" % SLAVE,
    "/api/v1/keys/%s/enc_keys?size=8" % SLAVE,
    "/api/v1/keys/%s/enc_keys?size=65536" % SLAVE,
    "/api/v1/keys/%s/enc_keys?number=0" % SLAVE,
    "/api/v1/keys/%s/enc_keys?number=129" % SLAVE,
    "/api/v1/keys/%s/enc_keys?number=abc" % SLAVE,
    "/api/v1/keys/%s/enc_keys?number=-1" % SLAVE,
    "/api/v1/keys/%s/enc_keys?number=1&number=2" % SLAVE,
    "/api/v1/keys/nobody/enc_keys",
    "/api/v1/keys/nobody/status",
])
def test_bad_enc_and_status_requests_get_400(server, pki, path, pair):
    before = pair.status()["stored_key_count"]
    status, doc = call(connect(server, pki, MASTER), "GET", path)
    assert status == 400 and isinstance(doc["message"], str)
    assert pair.status()["stored_key_count"] == before


@pytest.mark.parametrize("body", [
    {"number": "2"}, {"number": True}, {"size": 12.0}, {"size": 100},
    {"additional_slave_SAE_IDs": ["x"]}, {"extension_mandatory": [{"foo": 1}]},
])
def test_bad_key_requests_get_400(server, pki, body):
    status, doc = call(connect(server, pki, MASTER), "POST", "/api/v1/keys/%s/enc_keys" % SLAVE, body)
    assert status == 400 and "message" in doc


@pytest.mark.parametrize("raw", [b"{", b"[]", b"\xff\xfe", b"null", b'"x"', b"{" * 5000 + b"}" * 5000])
def test_malformed_json_gets_400(server, pki, raw):
    for sae, path in ((MASTER, "/api/v1/keys/%s/enc_keys" % SLAVE), (SLAVE, "/api/v1/keys/%s/dec_keys" % MASTER)):
        status, doc = call(connect(server, pki, sae), "POST", path, raw=raw)
        assert status == 400 and "message" in doc


@pytest.mark.parametrize("body", [
    {}, {"key_IDs": []}, {"key_IDs": "x"}, {"key_IDs": ["x"]}, {"key_IDs": [{"key_ID": "not-a-uuid"}]},
    {"key_IDs": [{"key_ID": 5}]}, {"key_IDs": [{"key_ID": str(uuid.uuid4())}]},
    {"key_IDs": [{"key_ID": str(uuid.uuid4())}] * 129},
])
def test_bad_key_id_requests_get_400(server, pki, body):
    status, doc = call(connect(server, pki, SLAVE), "POST", "/api/v1/keys/%s/dec_keys" % MASTER, body)
    assert status == 400 and "message" in doc


def test_dec_keys_get_needs_a_key_id(server, pki):
    slave = connect(server, pki, SLAVE)
    assert call(slave, "GET", "/api/v1/keys/%s/dec_keys" % MASTER)[0] == 400
    assert call(slave, "GET", "/api/v1/keys/%s/dec_keys?key_ID=zz" % MASTER)[0] == 400


def test_a_partly_unknown_id_list_takes_nothing(server, pki):
    master, slave = connect(server, pki, MASTER), connect(server, pki, SLAVE)
    (key_id, key), = keys_of(call(master, "GET", "/api/v1/keys/%s/enc_keys" % SLAVE)[1])
    status, _ = call(slave, "POST", "/api/v1/keys/%s/dec_keys" % MASTER,
                     {"key_IDs": [{"key_ID": key_id}, {"key_ID": str(uuid.uuid4())}]})
    assert status == 400
    status, doc = call(slave, "POST", "/api/v1/keys/%s/dec_keys" % MASTER, {"key_IDs": [{"key_ID": key_id}]})
    assert status == 200 and keys_of(doc) == [(key_id, key)]


def test_wrong_sae_gets_401_and_no_key(server, pki, pair):
    master, slave, other = (connect(server, pki, s) for s in (MASTER, SLAVE, OTHER))
    (key_id, _), = keys_of(call(master, "GET", "/api/v1/keys/%s/enc_keys" % SLAVE)[1])
    # The slave may not draw new keys; the master may not fetch by ID (not even its own);
    # another SAE of the same CA may do nothing.
    assert call(slave, "GET", "/api/v1/keys/%s/enc_keys" % MASTER)[0] == 401
    assert call(slave, "GET", "/api/v1/keys/%s/enc_keys" % SLAVE)[0] == 401
    assert call(master, "GET", "/api/v1/keys/%s/dec_keys?key_ID=%s" % (SLAVE, key_id))[0] == 401
    assert call(master, "GET", "/api/v1/keys/%s/dec_keys?key_ID=%s" % (MASTER, key_id))[0] == 401
    assert call(other, "GET", "/api/v1/keys/%s/dec_keys?key_ID=%s" % (MASTER, key_id))[0] == 401
    assert call(other, "POST", "/api/v1/keys/%s/enc_keys" % SLAVE, {})[0] == 401
    status, doc = call(other, "GET", "/api/v1/keys/%s/status" % SLAVE)
    assert status == 401 and "message" in doc
    # The key is still there for its slave.
    assert call(slave, "GET", "/api/v1/keys/%s/dec_keys?key_ID=%s" % (MASTER, key_id))[0] == 200


def test_empty_pool_and_alarm_get_503(server, pki, pair):
    master, slave = connect(server, pki, MASTER), connect(server, pki, SLAVE)
    (key_id, _), = keys_of(call(master, "GET", "/api/v1/keys/%s/enc_keys" % SLAVE)[1])
    pair.set_eavesdrop(0.5)
    status, doc = call(master, "GET", "/api/v1/keys/%s/enc_keys" % SLAVE)
    assert status == 503 and doc["details"] == [{"etsi_qkd_004_status": 4}]
    assert call(slave, "GET", "/api/v1/keys/%s/dec_keys?key_ID=%s" % (MASTER, key_id))[0] == 503
    status, doc = call(master, "GET", "/api/v1/keys/%s/status" % SLAVE)
    assert status == 200 and doc["status_extension"]["alarm"] is True
    pair.set_eavesdrop(0.0)
    assert call(slave, "GET", "/api/v1/keys/%s/dec_keys?key_ID=%s" % (MASTER, key_id))[0] == 200
    left = pair.status()["stored_key_count"]
    while left:
        n = min(left, 128)
        assert call(master, "GET", "/api/v1/keys/%s/enc_keys?number=%d" % (SLAVE, n))[0] == 200
        left -= n
    status, doc = call(master, "GET", "/api/v1/keys/%s/enc_keys" % SLAVE)
    assert status == 503 and doc["details"] == [{"etsi_qkd_004_status": 2}]


def refused(server, ctx):
    before = server.counters["tls_refused"]
    conn = http.client.HTTPSConnection("127.0.0.1", server.port, context=ctx, timeout=10)
    with pytest.raises((ssl.SSLError, ConnectionError)):
        conn.request("GET", "/api/v1/keys/%s/status" % SLAVE)
        conn.getresponse().read()
    assert wait_for(lambda: server.counters["tls_refused"] == before + 1)
    assert server.counters["requests"] == 0


def test_client_without_certificate_is_refused_in_the_handshake(server, pki):
    refused(server, client_context(pki))


def test_certificate_from_another_ca_is_refused_in_the_handshake(server, pki, other_pki):
    # Same SAE name, but signed by another CA (the client still trusts the real CA).
    ctx = ssl.create_default_context(cafile=pki["ca"])
    ctx.load_cert_chain(other_pki[MASTER + ".crt"], other_pki[MASTER + ".key"])
    refused(server, ctx)


def test_plain_http_and_garbage_do_not_hurt_the_server(server, pki):
    for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\x05hello", b"\x00" * 10000):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
            try:  # the server may reset the connection at any point
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                drain(s)
            except OSError:
                pass
    # Inside TLS: a garbage request line, an oversize header, an oversize body.
    ctx = client_context(pki, MASTER)
    for junk in (b"\x01\x02 garbage\r\n\r\n", b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n",
                 b"POST /api/v1/keys/%s/enc_keys HTTP/1.1\r\nContent-Length: %d\r\n\r\n"
                 % (SLAVE.encode(), MAX_BODY + 1)):
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", server.port), timeout=10),
                             server_hostname="127.0.0.1") as s:
            s.sendall(junk)
            status_line = drain(s).split(b"\r\n")[0].split(b" ")
            assert status_line[0] == b"HTTP/1.1" and status_line[1] in (b"400", b"414")
    status, _ = call(connect(server, pki, MASTER), "GET", "/api/v1/keys/%s/status" % SLAVE)
    assert status == 200


def test_unknown_paths_and_methods(server, pki):
    master = connect(server, pki, MASTER)
    assert call(master, "GET", "/api/v1/keys/%s/other" % SLAVE)[0] == 404
    assert call(master, "GET", "/")[0] == 404
    assert call(master, "POST", "/api/v1/keys/%s/status" % SLAVE, {})[0] == 405
    assert call(master, "DELETE", "/api/v1/keys/%s/enc_keys" % SLAVE)[0] == 405


BODIES = st.one_of(st.binary(max_size=300), st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)),
    lambda kids: st.one_of(st.lists(kids, max_size=4), st.dictionaries(
        st.sampled_from(["number", "size", "key_IDs", "key_ID", "x"]), kids, max_size=4)),
    max_leaves=10).map(lambda d: json.dumps(d).encode()))


def test_fuzzed_bodies_never_get_a_5xx(server, pki):
    calls = [(connect(server, pki, MASTER), "/api/v1/keys/%s/enc_keys" % SLAVE),
             (connect(server, pki, SLAVE), "/api/v1/keys/%s/dec_keys" % MASTER)]

    @settings(max_examples=100, deadline=None)
    @given(body=BODIES)
    def run(body):
        for conn, path in calls:
            status, doc = call(conn, "POST", path, raw=body)
            assert status in (200, 400, 503) and isinstance(doc, dict)

    run()
    assert server.counters["errors_5xx"] == 0


def test_third_party_etsi_client_draws_matching_keys(server, pki):
    from etsi_qkd_014_client import QKD014Client

    master = QKD014Client("localhost:%d" % server.port, pki[MASTER + ".crt"], pki[MASTER + ".key"], pki["ca"])
    slave = QKD014Client("127.0.0.1:%d" % server.port, pki[SLAVE + ".crt"], pki[SLAVE + ".key"], pki["ca"])
    code, status = master.get_status(SLAVE)
    assert code == 200 and status.slave_sae_id == SLAVE and status.stored_key_count == 200
    code, simple = master.get_key(SLAVE)  # plain GET, server defaults
    assert code == 200 and len(simple.keys) == 1
    code, container = master.get_key(SLAVE, number=4, size=256)  # POST Key request
    assert code == 200 and len(container.keys) == 4
    ids = [k.key_id for k in simple.keys + container.keys]
    code, fetched = slave.get_key_with_key_IDs(MASTER, ids)
    assert code == 200
    assert [(k.key_id, k.key) for k in fetched.keys] == [(k.key_id, k.key) for k in simple.keys + container.keys]
    assert len({k.key for k in fetched.keys}) == 5
    code, error = slave.get_key_with_key_IDs(MASTER, ids[:1])
    assert code == 400 and error.message
    code, error = slave.get_key(MASTER)
    assert code == 401


def test_slave_sae_cannot_fetch_a_key_drawn_over_the_uart(server, pki, pair):
    # The vehicle's master ECU draws over the UART; the ANNOUNCE frame carries
    # the key ID in clear. The REST slave SAE asking for it gets the ETSI
    # error, and the key stays for the UART slave.
    key_id, key = pair.take_new_key("A", 256)
    slave = connect(server, pki, SLAVE)
    status, doc = call(slave, "GET", "/api/v1/keys/%s/dec_keys?key_ID=%s" % (MASTER, uuid.UUID(bytes=key_id)))
    assert status == 400 and set(doc) == {"message", "details"} and doc["message"]
    status, doc = call(slave, "POST", "/api/v1/keys/%s/dec_keys" % MASTER,
                       {"key_IDs": [{"key_ID": str(uuid.UUID(bytes=key_id))}]})
    assert status == 400 and "keys" not in doc
    assert pair.take_key_by_id("B", key_id) == key


def test_silent_connections_do_not_lock_out_clients(server, pki):
    # 64 TCP connections that never start TLS, held open: a client with a
    # certificate is still served (the oldest silent handshakes make room).
    silent = [socket.create_connection(("127.0.0.1", server.port), timeout=10) for _ in range(64)]
    try:
        status, _ = call(connect(server, pki, MASTER), "GET", "/api/v1/keys/%s/status" % SLAVE)
        assert status == 200
        assert server.counters["handshakes_evicted"] >= 64 - 16
    finally:
        for s in silent:
            s.close()


def test_connections_per_sae_are_bounded(server, pki):
    from emulator.kme_rest import MAX_CONNECTIONS_PER_SAE

    held = []
    try:
        for _ in range(MAX_CONNECTIONS_PER_SAE):
            conn = connect(server, pki, MASTER)
            assert call(conn, "GET", "/api/v1/keys/%s/status" % SLAVE)[0] == 200
            held.append(conn)
        with pytest.raises((ssl.SSLError, ConnectionError, http.client.HTTPException)):
            call(connect(server, pki, MASTER), "GET", "/api/v1/keys/%s/status" % SLAVE)
        # Another SAE still gets in.
        assert call(connect(server, pki, SLAVE), "GET", "/api/v1/keys/%s/status" % MASTER)[0] == 200
    finally:
        for conn in held:
            conn.close()
