# The UDS server request by request: every service, every negative response
# code it documents, exact bytes (both runtimes). A udsoncan client faces the
# same server in tests/interop/test_udsoncan_server.py.
from ota_fixture import Rig, make_image, K_AUTH, NODE
from fwtest import h
from keyagent.crypto.cmac import Cmac
from keyagent.uds.security import diag_key


def test_session_control_and_tester_present():
    r = Rig()
    assert r.ask([0x10, 0x03]) == h("5003003201f4")
    assert r.ask([0x10, 0x02]) == h("5002003201f4")
    assert r.ask([0x10, 0x81]) is None  # suppressPosRspMsgIndicationBit
    assert r.server.session == 1
    assert r.ask([0x10, 0x04]) == h("7f1012")
    assert r.ask([0x10]) == h("7f1013")
    assert r.ask([0x10, 0x01, 0x00]) == h("7f1013")
    assert r.ask([0x3E, 0x00]) == h("7e00")
    assert r.ask([0x3E, 0x80]) is None
    assert r.ask([0x3E, 0x01]) == h("7f3e12")
    assert r.ask([0x3E, 0x00, 0x00]) == h("7f3e13")


def test_unknown_service_and_malformed_requests_never_raise():
    r = Rig()
    assert r.ask([0x85, 0x01]) == h("7f8511")
    assert r.ask([0x19]) == h("7f1911")
    assert r.server.handle(b"", 0) is None
    for sid in (0x10, 0x11, 0x22, 0x27, 0x31, 0x34, 0x36, 0x37, 0x3E):
        for extra in (b"", b"\xff", b"\x00" * 40):
            resp = r.server.handle(bytes((sid,)) + extra, 0)
            assert resp is None or resp[0] in (sid + 0x40, 0x7F)


def test_s3_timeout_returns_to_default_and_locks():
    r = Rig()
    assert r.unlock()[0] == 0x67
    assert r.server.next_timer(r.now) == r.now + 5000
    r.server.poll(r.now + 4999)
    assert r.server.session == 2
    r.server.poll(r.now + 5000)
    assert r.server.session == 1 and not r.security.unlocked
    assert r.ask([0x34, 0, 0x11, 0, 10]) == h("7f347f")


def test_ecu_reset():
    r = Rig()
    assert r.ask([0x11, 0x01]) == h("5101") and r.server.reset_due
    r.server.reset_due = False
    assert r.ask([0x11, 0x83]) is None and r.server.reset_due
    assert r.ask([0x11, 0x02]) == h("7f1112")
    assert r.ask([0x11, 0x01, 0x00]) == h("7f1113")


def test_read_data_by_identifier():
    r = Rig(version="1.0.0")
    assert r.ask([0x22, 0xF1, 0x95]) == h("62f195") + b"1.0.0"
    assert r.ask([0x22, 0xF1, 0x95, 0x12, 0x34]) == h("62f195") + b"1.0.0"
    assert r.ask([0x22, 0x12, 0x34]) == h("7f2231")
    assert r.ask([0x22, 0xF1]) == h("7f2213")
    assert r.ask([0x22]) == h("7f2213")


def test_security_access_seed_key_attempts_and_delay():
    r = Rig()
    assert r.ask([0x27, 0x01]) == h("7f277f")  # not in the default session
    r.ask([0x10, 0x03])
    assert r.ask([0x27, 0x02] + [0] * 16) == h("7f2724")  # key before seed
    assert r.ask([0x27, 0x03]) == h("7f2712")
    assert r.ask([0x27, 0x01, 0x00]) == h("7f2713")
    assert r.ask([0x27, 0x02, 0x00]) == h("7f2713")
    for nrc in (0x35, 0x35, 0x36):
        seed = r.ask([0x27, 0x01])[2:]
        assert len(seed) == 16
        assert r.ask([0x27, 0x02] + [0] * 16) == bytes((0x7F, 0x27, nrc))
    assert r.ask([0x27, 0x01]) == h("7f2737")  # locked out: even the right key waits
    r.now += 10000
    seed = r.ask([0x27, 0x01])[2:]
    good = Cmac(diag_key(K_AUTH, NODE)).digest(seed)
    assert r.ask(bytes([0x27, 0x02]) + good) == h("6702")
    assert r.ask([0x27, 0x01]) == h("6701") + bytes(16)  # unlocked: zero seed
    assert r.ask(bytes([0x27, 0x02]) + good) == h("7f2724")  # one key per seed


def test_a_key_for_another_node_or_an_old_seed_fails():
    r = Rig()
    r.ask([0x10, 0x03])
    seed = r.ask([0x27, 0x01])[2:]
    other = Cmac(diag_key(K_AUTH, NODE + 1)).digest(seed)
    assert r.ask(bytes([0x27, 0x02]) + other) == h("7f2735")
    r.ask([0x27, 0x01])  # a new seed: the old seed's key is worthless
    assert r.ask(bytes([0x27, 0x02]) + Cmac(diag_key(K_AUTH, NODE)).digest(seed)) == h("7f2735")


def test_programming_services_need_session_and_security():
    r = Rig()
    for req, nrc in (([0x31, 1, 0xFF, 0], 0x7F), ([0x34, 0, 0x11, 0, 9], 0x7F), ([0x36, 1, 0], 0x7F),
                     ([0x37], 0x7F)):
        assert r.ask(req) == bytes((0x7F, req[0], nrc))
    r.ask([0x10, 0x02])
    for req in ([0x31, 1, 0xFF, 0], [0x34, 0, 0x11, 0, 9], [0x36, 1, 0], [0x37]):
        assert r.ask(req) == bytes((0x7F, req[0], 0x33))


def test_routine_control_nrcs():
    r = Rig()
    r.unlock()
    assert r.ask([0x31, 0x02, 0xFF, 0x00]) == h("7f3112")
    assert r.ask([0x31, 0x01, 0x12, 0x34]) == h("7f3131")
    assert r.ask([0x31, 0x01, 0xFF, 0x00, 0x00]) == h("7f3113")
    assert r.ask([0x31, 0x01, 0xFF]) == h("7f3113")
    assert r.ask([0x31, 0x01, 0x02, 0x02]) == h("7f3124")  # check before a download
    assert r.ask([0x31, 0x01, 0xFF, 0x01]) == h("7f3124")  # activate before a check
    assert r.server.handle(bytes([0x31, 0x01, 0xFF, 0x00]), r.now) == h("7f3178")
    assert r.server.next_timer(r.now) == r.now
    assert r.server.poll(r.now) == h("7101ff0000")


def test_download_nrcs():
    r = Rig()
    r.unlock()
    assert r.ask([0x34, 0, 0x44, 0, 0, 0, 0, 0, 0, 1, 0]) == h("7f3422")  # not erased
    r.ask([0x31, 1, 0xFF, 0])
    assert r.ask([0x34, 0x11, 0x44, 0, 0, 0, 0, 0, 0, 1, 0]) == h("7f3431")  # compressed
    assert r.ask([0x34, 0, 0x05, 0, 0, 0, 0, 0, 0, 1, 0]) == h("7f3431")  # bad ALFID
    assert r.ask([0x34, 0, 0x44, 0, 0, 0, 0, 0, 1]) == h("7f3413")
    assert r.ask([0x34, 0, 0x44, 0, 0, 0, 1, 0, 0, 1, 0]) == h("7f3431")  # address
    assert r.ask([0x34, 0, 0x44, 0, 0, 0, 0, 0x7F, 0, 0, 0]) == h("7f3431")  # too large
    assert r.ask([0x36, 1, 0]) == h("7f3624")
    assert r.ask([0x37]) == h("7f3724")
    img = make_image()
    assert r.ask([0x34, 0, 0x44, 0, 0, 0, 0] + list(len(img).to_bytes(4, "big"))) == h("74200402")
    assert r.ask([0x34, 0, 0x44, 0, 0, 0, 0] + list(len(img).to_bytes(4, "big"))) == h("7f3422")
    assert r.ask([0x36, 2] + list(img[:100])) == h("7f3673")
    assert r.ask(bytes([0x36, 1]) + img[:100]) == h("7601")
    assert r.ask(bytes([0x36, 1]) + img[:100]) == h("7601")  # a repeated block is not rewritten
    assert r.ask(bytes([0x36, 2]) + bytes(1025)) == h("7f3613")
    assert r.ask([0x37]) == h("7f3724")  # not all bytes yet
    assert r.ask([0x36, 3, 0]) == h("7f3624")  # the failed exit ended the download
    assert r.ask([0x11, 0x01]) == h("5101")


def test_download_overrun_is_refused():
    r = Rig()
    r.unlock()
    r.ask([0x31, 1, 0xFF, 0])
    img = make_image()
    r.ask([0x34, 0, 0x44, 0, 0, 0, 0] + list((len(img) - 1).to_bytes(4, "big")))
    assert r.ask(bytes([0x36, 1]) + img[:1024]) == h("7f3631")  # the manifest disagrees
    r.ask([0x31, 1, 0xFF, 0])
    r.ask([0x34, 0, 0x44, 0, 0, 0, 0] + list((len(img) + 1).to_bytes(4, "big")))
    assert r.ask(bytes([0x36, 1]) + img[:1024]) == h("7f3631")
    r.ask([0x31, 1, 0xFF, 0])
    r.ask([0x34, 0, 0x44, 0, 0, 0, 0] + list(len(img).to_bytes(4, "big")))
    assert r.ask(bytes([0x36, 1]) + img[:1024]) == h("7601")
    assert r.ask(bytes([0x36, 2]) + img[1024:2048]) == h("7602")
    assert r.ask(bytes([0x36, 3]) + img[2048:] + b"x") == h("7f3671")


def test_reset_refused_during_a_download():
    r = Rig()
    r.unlock()
    r.ask([0x31, 1, 0xFF, 0])
    r.ask([0x34, 0, 0x44, 0, 0, 0, 0, 0, 0, 8, 0])
    assert r.ask([0x11, 0x01]) == h("7f1122")
    assert r.ask([0x10, 0x03])[0] == 0x50  # leaving the session drops the download
    assert r.ask([0x11, 0x01]) == h("5101")


def test_whole_update_and_its_refusals():
    r = Rig()
    r.unlock()
    assert r.push(make_image("1.1.0")) is None
    assert r.store.record["trial"] == "a"
    r2 = Rig(fs=r.fs)
    r2.unlock()
    assert r2.push(make_image("1.2.0")) == h("7f3122")  # a trial waits for its verdict
    r.store.confirm(1001000)
    r3 = Rig(fs=r.fs, running="a", version="1.1.0")
    r3.unlock()
    assert r3.push(make_image("1.1.0")) == h("7f3122")  # replayed: not newer
    assert r3.push(make_image("1.0.5")) == h("7f3122")  # older
    assert r3.push(make_image("1.2.0", node=NODE + 1)) == h("7f3631")  # another ECU's image
    assert r3.push(make_image("1.2.0", key=bytes(16))) == h("7f3631")  # wrong key
    img = bytearray(make_image("1.2.0"))
    img[-5] ^= 1  # a file's content
    assert r3.push(bytes(img)) == h("7f3672")
    img = bytearray(make_image("1.2.0"))
    img[20] ^= 1  # the manifest
    assert r3.push(bytes(img)) == h("7f3631")
    assert r3.updater.rejected == {"downgrade": 2, "bad_tag": 3, "bad_file": 1}
    assert r3.push(make_image("1.2.0")) is None
    assert r3.store.record == {"active": "a", "floor": 1001000, "trial": "b", "boots": 0}


def test_block_counter_wraps_and_a_repeat_after_the_wrap_is_acknowledged():
    r = Rig()
    r.unlock()
    content = [("keyagent/big.mpy", bytes(i & 0xFF for i in range(300 * 16)))]
    img = make_image("1.1.0", content=content)
    assert r.ask([0x31, 1, 0xFF, 0]) == h("7101ff0000")
    r.ask([0x34, 0, 0x44, 0, 0, 0, 0] + list(len(img).to_bytes(4, "big")))
    off = 0
    for n in range(1, 1000):
        block = img[off:off + 16]
        assert r.ask(bytes([0x36, n & 0xFF]) + block) == bytes((0x76, n & 0xFF))
        if n == 256:  # counter 0 after 0xFF, sent twice
            assert r.ask(bytes([0x36, 0]) + block) == h("7600")
        off += 16
        if off >= len(img):
            break
    assert r.ask([0x37]) == h("77")


def test_the_count_of_wrong_keys_survives_a_reset():
    from keyagent.storage import MemoryStorage
    from keyagent.uds.security import SecurityAccess

    flash = MemoryStorage()
    sa = SecurityAccess(diag_key(K_AUTH, NODE), lambda n: bytes(n), storage=flash)
    for nrc in (0x35, 0x35):
        sa.request_seed(0)
        assert sa.send_key(bytes(16), 0) == nrc
    assert flash.get("sa_failures") == 2
    sa = SecurityAccess(diag_key(K_AUTH, NODE), lambda n: bytes(n), storage=flash)  # reset
    sa.request_seed(0)
    assert sa.send_key(bytes(16), 0) == 0x36  # the third in a row, across the reset
    sa = SecurityAccess(diag_key(K_AUTH, NODE), lambda n: bytes(n), storage=flash)  # reset again
    assert sa.request_seed(5000) == (0x37, None)  # the delay starts again at the first request
    assert sa.request_seed(14999) == (0x37, None)
    assert sa.request_seed(15000)[0] == 0 and flash.get("sa_failures") == 0
    good = Cmac(diag_key(K_AUTH, NODE)).digest(bytes(16))
    assert sa.send_key(good, 15000) == 0 and sa.unlocked
