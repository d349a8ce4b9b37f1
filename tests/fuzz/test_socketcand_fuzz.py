# Fuzzing the socketcand parser, and byte compatibility with python-can's own
# socketcand converters (can.interfaces.socketcand.socketcand).
import can
from can.interfaces.socketcand import socketcand as pycan_sc
from hypothesis import given, settings
from hypothesis import strategies as st

from keyagent.unix import socketcand as sc

FD_LENGTHS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64)
KINDS = {sc.EV_HI, sc.EV_OK, sc.EV_ERROR, sc.EV_OPEN, sc.EV_MODE, sc.EV_ECHO, sc.EV_FRAME,
         sc.EV_SEND, sc.EV_REJECT}

elements = st.sampled_from([b"< hi >", b"< ok >", b"< frame 123 1.5 0102 >", b"<", b">", b" ",
                            b"< send 7FF 1 ff >", b"< fdframe 0A0 01 1.0 00 >", b"\x00\xff"])


def drain(p, data, chunk):
    kinds = []
    off = 0
    for _ in range(len(data) + 2):
        off += p.feed(data[off : off + chunk])
        for _ in range(len(data) + 2):
            ev = p.next()
            if ev == sc.EV_NONE:
                break
            kinds.append(ev)
        if off >= len(data):
            break
    return kinds


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.binary(max_size=40), elements), max_size=30), st.integers(1, 600))
def test_garbage_never_raises_and_stays_bounded(parts, chunk):
    p = sc.Parser(capacity=512, max_element=300)
    data = b"".join(parts)
    kinds = drain(p, data, chunk)
    assert set(kinds) <= KINDS
    assert len(kinds) <= len(data)  # every event consumes at least one byte
    assert 0 <= p.space() <= 512
    assert p.length <= 64


ids = st.one_of(st.tuples(st.integers(0, 0x7FF), st.just(False)),
                st.tuples(st.integers(0, 0x1FFFFFFF), st.just(True)))


@settings(max_examples=300, deadline=None)
@given(ids, st.sampled_from(FD_LENGTHS), st.booleans(), st.integers(0, 3), st.data())
def test_format_parse_round_trip(ident, n, fd, flags, data):
    can_id, ext = ident
    if not fd:
        n = min(n, 8)
        flags = 0
    payload = data.draw(st.binary(min_size=n, max_size=n))
    p = sc.Parser()
    for line, kind in ((sc.fmt_send(can_id, ext, payload, n, fd, flags), sc.EV_SEND),
                       (sc.fmt_frame(can_id, ext, 12, 34, payload, n, fd, flags), sc.EV_FRAME)):
        p.feed(line)
        assert p.next() == kind
        assert (p.can_id, p.ext, p.fd, p.flags, bytes(p.data[: p.length])) == (can_id, ext, fd, flags, payload)
        assert p.next() == sc.EV_NONE


@settings(max_examples=200, deadline=None)
@given(ids, st.binary(max_size=8))
def test_python_can_send_lines_parse(ident, payload):
    can_id, ext = ident
    msg = can.Message(arbitration_id=can_id, is_extended_id=ext, data=payload)
    line = pycan_sc.convert_can_message_to_ascii_message(msg).encode()
    p = sc.Parser()
    p.feed(line)
    assert p.next() == sc.EV_SEND
    assert (p.can_id, p.ext, bytes(p.data[: p.length])) == (can_id, ext, payload)


@settings(max_examples=200, deadline=None)
@given(ids, st.binary(max_size=8), st.integers(0, 2**31), st.integers(0, 999999))
def test_our_frame_lines_parse_in_python_can(ident, payload, secs, usecs):
    can_id, ext = ident
    line = sc.fmt_frame(can_id, ext, secs, usecs, payload, len(payload)).decode()
    msg = pycan_sc.convert_ascii_message_to_can_message(line)
    assert (msg.arbitration_id, msg.is_extended_id, bytes(msg.data)) == (can_id, ext, payload)
    assert abs(msg.timestamp - (secs + usecs / 1e6)) < 1e-3
