# The agent's end of the optical-module link, driven with exact bytes: the
# requests it writes, the responses a module sends (laid out by hand from
# docs/optical-module-protocol.md), timers, retries and counted rejections.
from fwtest import vectors, h, raises
from keyagent.optical import link as ml
from keyagent.optical.client import ModuleClient, QoS, LinkBusy

F = vectors("module_link_frames.json")
KEY_ID = h(F["get_key_by_id"]["key_id"])
KEY = h(F["get_key_by_id"]["key"])
KSID = h("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf")


def wire(frame_without_crc):
    raw = bytearray(frame_without_crc) + bytearray(4)
    out = bytearray(ml.MAX_WIRE + 1)
    return bytes(out[0 : ml.encode_frame(raw, len(frame_without_crc), out, 0)])


def client_at_seq(seq, **kw):
    return ModuleClient(first_seq=seq, **kw)


def test_get_key_by_id_exact_bytes_both_ways():
    ex = F["get_key_by_id"]
    c = client_at_seq(ex["seq"])
    assert c.get_key_by_id(1000, KEY_ID) == 0x17
    assert c.data_to_send() == h(ex["request_wire"])
    assert c.data_to_send() == b""
    assert c.next_result() is None
    c.receive_data(h(ex["response_wire"]))
    r = c.next_result()
    assert (r.request, r.seq, r.status, r.local, r.ok()) == (ml.GET_KEY_BY_ID, 0x17, ml.SUCCESS, False, True)
    assert bytes(r.key) == KEY
    assert c.next_result() is None and c.outstanding() == 0
    assert c.rx.rejects == [0] * ml.REJ_COUNT


def test_status_response_fields():
    c = ModuleClient()
    c.status(0)
    assert c.data_to_send() == h(F["status"]["request_wire"])
    body = h("00" "01" "01" "0100" "00000005" "000003e8" "0001d4c0" "00002710" "00000003")
    c.receive_data(wire(h("8100") + body))
    info = c.next_result().info
    assert (info.version, info.link_state, info.key_size_bits, info.stored_keys, info.max_keys) == (1, 1, 256, 5, 1000)
    assert (info.qber_ppm, info.key_rate_bps, info.rx_rejected) == (120000, 10000, 3)


def test_open_get_close_requests_and_responses():
    c = ModuleClient(max_outstanding=3)
    c.open_connect(0, "ecu", "rsu", QoS(key_chunk_size=16, min_bps=100), ksid=KSID)
    c.get_key(0, KSID, 7)
    c.close(0, KSID)
    qos = "0010" "00000000" "00000064" "00000000" "00000000" "00000000" "00000000"
    assert c.data_to_send() == (wire(h("0200") + KSID + b"\x03ecu\x03rsu" + h(qos))
                                + wire(h("0301") + KSID + h("00000007")) + wire(h("0402") + KSID))
    # Answered out of order: GET_KEY first, then CLOSE, then OPEN_CONNECT.
    c.receive_data(wire(h("830100") + h("00000007") + KEY_ID + b"\x10" + KEY[0:16]))
    c.receive_data(wire(h("840282")))
    c.receive_data(wire(h("820001") + KSID + h("0010")))
    g, cl, op = c.next_result(), c.next_result(), c.next_result()
    assert (g.status, g.index, g.key_id, bytes(g.key)) == (0, 7, KEY_ID, KEY[0:16])
    assert (cl.request, cl.status, cl.ok()) == (ml.CLOSE, ml.KSID_UNKNOWN, False)
    assert (op.status, op.ok(), op.ksid, op.key_chunk_size) == (ml.PEER_NOT_CONNECTED, True, KSID, 16)


def test_get_new_key_and_refusal():
    c = ModuleClient()
    c.get_new_key(0, 256)
    assert c.data_to_send() == wire(h("05000100"))
    c.receive_data(wire(h("850002")))
    r = c.next_result()
    assert (r.status, r.key, r.ok()) == (ml.INSUFFICIENT_KEY, None, False)
    c.get_new_key(0, 256)
    c.data_to_send()
    c.receive_data(wire(h("850100") + KEY_ID + b"\x20" + KEY))
    r = c.next_result()
    assert (r.key_id, bytes(r.key)) == (KEY_ID, KEY)


def test_retries_resend_marked_with_the_same_seq_then_time_out():
    c = client_at_seq(0x17, timeout_ms=50, retries=2)
    c.get_key_by_id(100, KEY_ID)
    assert c.data_to_send() == h(F["get_key_by_id"]["request_wire"])
    again = h(F["get_key_by_id"]["retry_wire"])  # type | RETRY, same seq, same payload
    assert c.next_timer(100) == 50 and c.next_timer(130) == 20
    c.handle_timers(149)
    assert c.data_to_send() == b""
    c.handle_timers(150)
    assert c.data_to_send() == b"\x00" + again
    assert c.next_timer(150) == 50
    c.handle_timers(200)
    assert c.data_to_send() == b"\x00" + again
    assert c.next_result() is None
    c.handle_timers(250)
    assert c.data_to_send() == b""
    r = c.next_result()
    assert (r.status, r.local, r.seq, c.retransmissions) == (ml.TIMEOUT, True, 0x17, 2)
    assert c.next_timer(250) == -1
    # The late answer finds nobody waiting.
    c.receive_data(h(F["get_key_by_id"]["response_wire"]))
    assert c.next_result() is None and c.rx.rejects[ml.REJ_UNSOLICITED] == 1


def test_answer_after_a_retry_completes_once():
    ex = F["get_key_by_id"]
    c = client_at_seq(0x17, timeout_ms=10)
    c.get_key_by_id(0, KEY_ID)
    c.data_to_send()
    c.handle_timers(10)
    c.data_to_send()
    c.receive_data(h(ex["response_wire"]) + h(ex["response_wire"]))  # both copies arrive
    assert bytes(c.next_result().key) == KEY
    assert c.next_result() is None and c.rx.rejects[ml.REJ_UNSOLICITED] == 1


def test_timers_work_across_the_ticks_wrap():
    c = ModuleClient(timeout_ms=100)
    c.status(0x3FFFFFF0)
    assert c.next_timer(0x3FFFFFF0) == 100
    assert c.next_timer(0x10) == 100 - 0x20
    c.handle_timers(0x3FFFFFF0 + 100)  # the caller's clock may also not wrap
    assert c.retransmissions == 1


def test_wrong_answers_are_counted_not_raised():
    ex = F["get_key_by_id"]
    c = client_at_seq(0x17)
    c.get_key_by_id(0, KEY_ID)
    c.data_to_send()
    c.receive_data(wire(h("0617") + KEY_ID))  # a request echoed back
    c.receive_data(wire(h("8617") + h("00") + b"\x21" + KEY))  # length byte says 33, 32 follow
    c.receive_data(wire(h("8617")))  # no status
    c.receive_data(wire(h("8618002000")))  # another seq
    c.receive_data(wire(h("8517") + h("00") + KEY_ID + b"\x20" + KEY))  # another type
    c.receive_data(wire(h("861702ff")))  # a refusal with a body
    assert c.next_result() is None
    assert c.rx.rejects == [0, 0, 0, 0, 1, 3, 2]
    c.receive_data(h(ex["response_wire"]))
    assert bytes(c.next_result().key) == KEY


def test_outstanding_requests_are_bounded():
    c = ModuleClient(max_outstanding=2)
    c.status(0)
    c.status(0)
    assert raises(LinkBusy, c.status, 0)
    c.receive_data(wire(h("810004")))  # seq 0 refused: its slot frees once the result is taken
    assert raises(LinkBusy, c.status, 0)
    assert c.next_result().status == ml.NO_QKD_CONNECTION
    assert c.status(0) == 2


def test_sequence_numbers_wrap_and_skip_outstanding():
    c = client_at_seq(255, max_outstanding=2)
    assert c.status(0) == 255
    c.receive_data(wire(h("81ff04")))
    c.next_result()
    assert c.status(0) == 0
    c._seq = 0  # seq 0 is still outstanding: it is skipped
    assert c.status(0) == 1


def test_local_misuse_raises():
    c = ModuleClient()
    assert raises(ValueError, c.get_key_by_id, 0, bytes(15))
    assert raises(ValueError, c.get_new_key, 0, 250)
    assert raises(ValueError, c.get_new_key, 0, 1024)
    assert raises(ValueError, c.open_connect, 0, "x" * 33, "b")
    assert raises(ValueError, c.open_connect, 0, "a", "b", QoS(key_chunk_size=65))
    assert raises(ValueError, c.get_key, 0, KSID, -1)
    assert raises(ValueError, ModuleClient, 0)
    assert raises(ValueError, ModuleClient, 200, 3, 5)  # beyond the module's replay window
    assert raises(ValueError, ModuleClient, 200, 3, 2, 256)
    assert c.outstanding() == 0 and c.data_to_send() == b""


def test_keys_of_the_wrong_length_are_counted_never_returned():
    # Issue 10, finding 5: CRC-valid answers with a 24-byte key to a 256-bit
    # GET_NEW_KEY, or an empty key by ID, are module faults: counted, and
    # the request ends as a timeout, never as an unusable key.
    c = client_at_seq(0, timeout_ms=10, retries=1)
    c.get_new_key(0, 256)
    c.data_to_send()
    c.receive_data(wire(h("850000") + KEY_ID + b"\x18" + KEY[0:24]))
    assert c.next_result() is None and c.rx.rejects[ml.REJ_LENGTH] == 1
    c.get_key_by_id(0, KEY_ID)
    c.data_to_send()
    c.receive_data(wire(h("860100") + b"\x00"))
    assert c.next_result() is None and c.rx.rejects[ml.REJ_LENGTH] == 2
    for now in (10, 20, 30):
        c.handle_timers(now)
    results = [c.next_result(), c.next_result()]
    assert [(r.status, r.key) for r in results] == [(ml.TIMEOUT, None), (ml.TIMEOUT, None)]
