# The firmware's rekey messages and key derivations against the byte vectors
# of tests/vectors/rekey_messages.json (made from docs/rekey-protocol.md with
# the `cryptography` package, not with this code): encoders give exactly
# those bytes, parsers read them back, checks accept them and refuse a flip.
from fwtest import vectors, h
from keyagent.rekey import messages as R
from keyagent.crypto import kdf, she
from keyagent.crypto.cmac import Cmac
from keyagent.crypto.she_store import SheKeyStore
from keyagent.rekey.slave import she_uid

V = vectors("rekey_messages.json")
IN, KEYS, SHE, MSG = V["inputs"], V["keys"], V["she"], V["messages"]
NODE, EPOCH = IN["node"], IN["epoch"]
AUTH = Cmac(h(IN["k_auth"]))
NONCE = h(IN["nonce"])
K_EPOCH = h(KEYS["k_epoch"])


def flipped(msg, i):
    b = bytearray(msg)
    b[i] ^= 1
    return bytes(b)


def test_key_derivations():
    assert R.epoch_key(h(IN["qkd_key"]), EPOCH) == K_EPOCH
    assert kdf.secoc_key(K_EPOCH, IN["cluster"], EPOCH) == h(KEYS["k_secoc"])
    assert R.mgmt_key(K_EPOCH, EPOCH) == h(KEYS["k_mgmt"])
    assert R.confirm_key(K_EPOCH, EPOCH) == h(KEYS["k_confirm"])


def test_announce_nack_join_encode_and_open():
    announce = R.announce(AUTH, NODE, EPOCH, h(IN["key_id"]), NONCE)
    assert announce == h(MSG["announce"])
    body = R.open_sealed(AUTH, NODE, announce, R.ANNOUNCE_BODY)
    assert R.parse_announce(body) == (EPOCH, h(IN["key_id"]), NONCE)
    assert R.open_sealed(AUTH, NODE, flipped(announce, 3), R.ANNOUNCE_BODY) is None
    assert R.open_sealed(AUTH, NODE + 1, announce, R.ANNOUNCE_BODY) is None  # bound to the node
    assert R.nack(AUTH, NODE, EPOCH, IN["nack_status"]) == h(MSG["nack"])
    join = R.join(AUTH, NODE, IN["join_last_epoch"], IN["boot"], NONCE)
    assert join == h(MSG["join"])
    body = R.open_sealed(AUTH, NODE, join, R.JOIN_BODY)
    assert len(body) == R.JOIN_BODY and R.get32(body, 5) == IN["boot"] and body[9:17] == NONCE


def test_ack_and_activate():
    confirm, mgmt = Cmac(h(KEYS["k_confirm"])), Cmac(h(KEYS["k_mgmt"]))
    ack = R.ack(confirm, NODE, EPOCH)
    assert ack == h(MSG["ack"]) and R.check_ack(confirm, NODE, ack)
    assert not R.check_ack(confirm, NODE, flipped(ack, 12))
    frame = bytearray(8)
    assert R.activate(mgmt, EPOCH, frame) == 8 and bytes(frame) == h(MSG["activate"])
    assert R.check_activate(mgmt, h(MSG["activate"]), 8)
    assert not R.check_activate(mgmt, flipped(h(MSG["activate"]), 7), 8)


def test_deliver_and_delivered_through_she():
    u = she.KeyUpdate(she_uid(NODE), she.KEY_1, she.MASTER_ECU_KEY, h(IN["k_auth"]), K_EPOCH,
                      IN["she_counter"], 0)
    assert (u.m1, u.m2, u.m3) == (h(SHE["m1"]), h(SHE["m2"]), h(SHE["m3"]))
    floors = [tuple(f) for f in IN["floors"]]
    active = R.deliver(AUTH, NODE, EPOCH, True, NONCE, u.m1, u.m2, u.m3, floors)
    assert active == h(MSG["deliver_active"])
    assert R.deliver(AUTH, NODE, EPOCH, False, NONCE, u.m1, u.m2, u.m3, []) == h(MSG["deliver_pending"])
    body = R.open_sealed(AUTH, NODE, active, R.DELIVER_BODY)
    epoch, is_active, m1, m2, m3, nonce, got_floors = R.parse_deliver(body)
    assert (epoch, is_active, nonce, got_floors) == (EPOCH, True, NONCE, floors)
    # The slave's SHE loads it and answers the vector's M4, M5; DELIVERED
    # carries M5, and the master accepts it.
    store = SheKeyStore(she_uid(NODE))
    store.provision(she.MASTER_ECU_KEY, h(IN["k_auth"]))
    store.provision(she.KEY_1, bytes(16))
    erc, m4, m5 = store.load_key(m1, m2, m3)
    assert erc == she.ERC_NO_ERROR and bytes(store.key(she.KEY_1)) == K_EPOCH
    assert (m4, m5) == (h(SHE["m4"]), h(SHE["m5"]))
    delivered = h(MSG["delivered"])
    assert R.delivered(EPOCH, m5) == delivered and len(delivered) == R.DELIVERED_LEN
    assert u.check_m5(delivered[5:21])
    assert not u.check_m5(flipped(delivered, 20)[5:21])
    assert not u.check_m5(delivered[5:20])
