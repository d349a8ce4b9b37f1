# V2I sessions (emulator.v2i, emulator.v2i_udp): the hybrid QKD + ML-KEM-768
# handshake, refusal without the key ID and of a replayed HELLO, AES-GCM
# messages with replay and tamper refusal, the hybrid property (either
# secret alone does not give the session key), and the whole chain over UDP
# on 127.0.0.1: keys relayed by the key network, stocked in the gateway's
# key store, used once.
import os

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator import qkd_errors as err
from emulator import v2i
from emulator.key_network import KeyNetwork
from emulator.key_network_spec import load
from emulator.v2i_udp import RoadsideUdp, exchange, handshake
from keyagent.keystore.store import KeyStore
from mpy_interpreter import ROOT

KEY_ID, QKD_KEY = bytes(range(16)), bytes(range(100, 132))


def rsu_with(keys):
    return v2i.RoadsideHandshakes(lambda vehicle, key_id: keys.pop((vehicle, key_id), None))


def handshake_pair(keys=None):
    keys = {("vehicle-1", KEY_ID): QKD_KEY} if keys is None else keys
    rsu = rsu_with(keys)
    vehicle = v2i.VehicleHandshake("vehicle-1", KEY_ID, QKD_KEY)
    hello = vehicle.hello()
    reply, rsu_session = rsu.on_hello(hello)
    return vehicle, rsu, hello, reply, rsu_session


def test_handshake_gives_both_sides_one_session():
    vehicle, rsu, hello, reply, rsu_session = handshake_pair()
    car = vehicle.on_reply(reply)
    assert rsu_session.peer == "vehicle-1" and rsu.counters["accepted"] == 1
    assert rsu_session.open(car.seal(b"speed 50")) == b"speed 50"
    assert car.open(rsu_session.seal(b"green in 4 s")) == b"green in 4 s"
    assert QKD_KEY not in hello + reply


def test_rsu_without_the_key_id_refuses():
    vehicle, rsu, _, reply, session = handshake_pair(keys={})
    assert session is None and rsu.counters["no_key"] == 1
    with pytest.raises(v2i.V2IError, match="no_key"):
        vehicle.on_reply(reply)


def test_replayed_hello_is_refused():
    vehicle, rsu, hello, reply, _ = handshake_pair()
    again, session = rsu.on_hello(hello)
    assert session is None and rsu.counters["replay"] == 1
    with pytest.raises(v2i.V2IError, match="replay"):
        v2i.VehicleHandshake("vehicle-1", KEY_ID, QKD_KEY).on_reply(again)


def test_rsu_with_another_qkd_key_fails_the_confirmation():
    rsu = rsu_with({("vehicle-1", KEY_ID): bytes(32)})
    vehicle = v2i.VehicleHandshake("vehicle-1", KEY_ID, QKD_KEY)
    reply, _ = rsu.on_hello(vehicle.hello())
    with pytest.raises(v2i.V2IError, match="bad_confirm"):
        vehicle.on_reply(reply)


@pytest.mark.parametrize("hello", [b"", b"\x01\x01", b"\x01\x01" + bytes(16) + b"\x00",
                                   b"\x02\x01" + bytes(1300)])
def test_malformed_hellos_are_refused(hello):
    rsu = rsu_with({})
    reply, session = rsu.on_hello(hello)
    assert session is None and reply[-1] == 3 and rsu.counters["malformed"] == 1


def test_messages_refuse_replay_tamper_and_old_sequence_numbers():
    vehicle, rsu, _, reply, rsu_session = handshake_pair()
    car = vehicle.on_reply(reply)
    sent = [car.seal(b"m%d" % i) for i in range(70)]
    assert rsu_session.open(sent[1]) == b"m1"
    assert rsu_session.open(sent[0]) == b"m0"  # late but inside the window
    for reason, message in (("replay", sent[1]), ("bad_tag", sent[2][:-1] + bytes((sent[2][-1] ^ 1,))),
                            ("malformed", sent[3][0:20])):
        with pytest.raises(v2i.V2IError, match=reason):
            rsu_session.open(message)
    assert rsu_session.open(sent[69]) == b"m69"
    with pytest.raises(v2i.V2IError, match="replay"):  # 66 behind: outside the window
        rsu_session.open(sent[3])
    with pytest.raises(v2i.V2IError, match="bad_tag"):  # the vehicle's own message, reflected back
        car.open(car.seal(b"x"))
    assert rsu_session.rejected == {"replay": 2, "bad_tag": 1, "malformed": 1}


def test_either_secret_alone_does_not_give_the_session_key():
    vehicle, rsu, hello, reply, rsu_session = handshake_pair()
    kem_secret = vehicle._dk.decapsulate(reply[34:34 + v2i.CT_LEN])  # what ML-KEM alone gives
    vehicle.on_reply(reply)
    nonce_v, nonce_r = hello[-v2i.EK_LEN - 16:-v2i.EK_LEN], reply[18:34]
    transcript = hello + reply[:-v2i.TAG_LEN]
    message = rsu_session.seal(b"for the vehicle only")
    nonce = (1).to_bytes(4, "big") + message[18:26]

    def opens(r2v_key):
        try:
            AESGCM(r2v_key).decrypt(nonce, message[26:], message[0:26])
            return True
        except InvalidTag:
            return False

    both = v2i.session_keys(QKD_KEY, kem_secret, nonce_v, nonce_r, transcript)
    assert opens(both[1])  # both secrets: the session key
    guesses = (os.urandom(32), bytes(32))
    for guess in guesses:
        qkd_only = v2i.session_keys(QKD_KEY, guess, nonce_v, nonce_r, transcript)
        kem_only = v2i.session_keys(guess, kem_secret, nonce_v, nonce_r, transcript)
        for keys in (qkd_only, kem_only):
            assert keys[1] != both[1] and keys[0] != both[0] and not opens(keys[1])


def test_vehicle_and_rsu_over_udp_with_relayed_stocked_keys():
    spec = load(os.path.join(ROOT, "scenarios", "network.toml"))
    net = KeyNetwork(spec)
    store = KeyStore(bytes(16), capacity=8)
    for rsu in ("rsu-1", "rsu-2"):
        keys, _ = net.issue("vehicle-1", rsu, 2)  # at the depot
        for key_id, key in keys:
            store.add(rsu, key_id, key)

    def kme_rsu_1(vehicle, key_id):
        try:
            return net.fetch(vehicle, "rsu-1", [key_id])[0]
        except err.KeyNotFound:
            return None

    server = RoadsideUdp(v2i.RoadsideHandshakes(kme_rsu_1)).start()
    try:
        key_id, key = store.take("rsu-1")
        sock, session = handshake(server.address, v2i.VehicleHandshake("vehicle-1", key_id, key))
        with sock:
            assert exchange(sock, session, b"hello rsu-1") == b"ack hello rsu-1"
        # A key stocked for rsu-2 means nothing to rsu-1.
        key_id, key = store.take("rsu-2")
        with pytest.raises(v2i.V2IError, match="no_key"):
            handshake(server.address, v2i.VehicleHandshake("vehicle-1", key_id, key))
    finally:
        server.stop()
    assert store.count("rsu-1") == 1 and store.count("rsu-2") == 1
