# Tester garbage against the UDS server: any sequence of requests, in any
# session, unlocked or not, mid-download or not. Nothing raises; every
# answer is a positive response to the request's service, one of the
# documented negative response codes, or nothing; the slots' record only
# ever names a slot whose image verifies.
from hypothesis import given, settings, strategies as st

from ota_fixture import Rig, make_image
from keyagent.ota.slots import SlotStore
from ota_fixture import KEYS, NODE, BOARD, ARCH

NRCS = {0x11, 0x12, 0x13, 0x22, 0x24, 0x31, 0x33, 0x35, 0x36, 0x37, 0x71, 0x72, 0x73, 0x78, 0x7F}
SIDS = [0x10, 0x11, 0x22, 0x27, 0x31, 0x34, 0x36, 0x37, 0x3E, 0x85, 0x19]
IMAGE = make_image("1.1.0")

request = st.one_of(
    st.binary(max_size=40),
    st.builds(lambda sid, rest: bytes((sid,)) + rest, st.sampled_from(SIDS), st.binary(max_size=12)),
    st.builds(lambda c, off: bytes((0x36, c)) + IMAGE[off:off + 1024], st.integers(0, 255),
              st.sampled_from([0, 1024, 2048])),
    st.sampled_from([b"\x10\x02", b"\x31\x01\xff\x00", b"\x31\x01\x02\x02", b"\x31\x01\xff\x01", b"\x37",
                     b"\x34\x00\x44\x00\x00\x00\x00" + len(IMAGE).to_bytes(4, "big")]),
)


@settings(max_examples=300, deadline=None)
@given(st.booleans(), st.lists(request, max_size=25))
def test_garbage_gets_a_documented_answer(unlock, requests):
    rig = Rig()
    if unlock:
        rig.unlock()
    for req in requests:
        rig.now += 7
        resp = rig.server.handle(req, rig.now)
        if resp is not None and resp[:1] == b"\x7f" and resp[2] == 0x78:
            resp = rig.server.poll(rig.now)
        if resp is None:
            continue
        if resp[0] == 0x7F:
            assert len(resp) == 3 and resp[1] == req[0] and resp[2] in NRCS, (req, resp)
        else:
            assert resp[0] == req[0] + 0x40, (req, resp)
    record = rig.store.record
    for slot in (record["active"], record["trial"]):
        if slot is not None:
            assert SlotStore(rig.fs, KEYS, NODE, BOARD, ARCH).verify(slot)["version"] == "1.1.0"
