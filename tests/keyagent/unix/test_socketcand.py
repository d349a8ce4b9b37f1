# The socketcand ASCII protocol parser and formatters, on bytes. Element
# formats as written by linux-can/socketcand (raw mode) and python-can 4.6's
# socketcand interface (`< send >` bytes as %x, no zero padding).
from fwtest import raises
from keyagent.unix import socketcand as sc


def events(p, data):
    out = []
    off = 0
    for _ in range(len(data) + 2):
        off += p.feed(data[off:])
        while True:
            ev = p.next()
            if ev == sc.EV_NONE:
                break
            if ev == sc.EV_FRAME or ev == sc.EV_SEND:
                out.append((ev, p.can_id, p.ext, p.fd, p.flags, bytes(p.data[: p.length])))
            elif ev == sc.EV_REJECT:
                out.append((ev, p.reason))
            else:
                out.append((ev, p.text if ev in (sc.EV_OPEN, sc.EV_MODE, sc.EV_ERROR) else None))
        if off >= len(data):
            break
    return out


def test_handshake_elements():
    p = sc.Parser()
    got = events(p, b"< hi >< open can0 >< ok >< rawmode >< echo >< error unknown command >")
    assert got == [(sc.EV_HI, None), (sc.EV_OPEN, b"can0"), (sc.EV_OK, None),
                   (sc.EV_MODE, b"rawmode"), (sc.EV_ECHO, None), (sc.EV_ERROR, b"unknown command")]


def test_raw_frames_from_socketcand():
    p = sc.Parser()
    got = events(p, b"< frame 123 23.424242 11223344 >< frame 1ABCDEF0 1.000001  >")
    assert got == [(sc.EV_FRAME, 0x123, False, False, 0, b"\x11\x22\x33\x44"),
                   (sc.EV_FRAME, 0x1ABCDEF0, True, False, 0, b"")]
    events(p, b"< frame 7FF 5.5 00 >")
    assert (p.secs, p.usecs) == (5, 500000)


def test_fd_frame():
    p = sc.Parser()
    data = bytes(range(12))
    line = b"< fdframe 0A0 01 12.000345 " + bytes("".join("%02X" % b for b in data), "ascii") + b" >"
    assert events(p, line) == [(sc.EV_FRAME, 0xA0, False, True, sc.FLAG_BRS, data)]
    assert (p.secs, p.usecs) == (12, 345)


def test_send_as_python_can_writes_it():
    p = sc.Parser()
    got = events(p, b"< send 123 3 1 a ff >< send 00000456 0  >< fdsend 0A0 01 12 0 1 2 3 4 5 6 7 8 9 a b >")
    assert got == [(sc.EV_SEND, 0x123, False, False, 0, b"\x01\x0a\xff"),
                   (sc.EV_SEND, 0x456, True, False, 0, b""),
                   (sc.EV_SEND, 0xA0, False, True, 1, bytes(range(12)))]


def test_formatters_round_trip():
    p = sc.Parser()
    assert sc.fmt_send(0x123, False, b"\x01\xab", 2) == b"< send 123 2 01 AB >"
    assert sc.fmt_frame(0x123, False, 3, 42, b"", 0) == b"< frame 123 3.000042  >"
    assert sc.fmt_frame(0x1F, True, 1, 0, b"\xde\xad", 2) == b"< frame 0000001F 1.000000 DEAD >"
    line = sc.fmt_frame(0x7FF, False, 9, 999999, bytes(range(64)), 64, True, sc.FLAG_BRS)
    assert line.startswith(b"< fdframe 7FF 01 9.999999 000102")
    assert events(p, line) == [(sc.EV_FRAME, 0x7FF, False, True, 1, bytes(range(64)))]
    line = sc.fmt_send(0x1234567, True, bytes(range(20)), 20, True, 0)
    assert events(p, line) == [(sc.EV_SEND, 0x1234567, True, True, 0, bytes(range(20)))]
    assert sc.fmt_simple(b"hi") == b"< hi >" and sc.fmt_open(b"can0") == b"< open can0 >"


def test_split_across_feeds():
    p = sc.Parser()
    line = b"< frame 123 1.000000 0102 >"
    got = []
    for i in range(len(line)):
        got += events(p, line[i : i + 1])
    assert got == [(sc.EV_FRAME, 0x123, False, False, 0, b"\x01\x02")]


def test_garbage_is_counted_not_raised():
    p = sc.Parser()
    got = events(p, b"junk< hi >< bogus 1 >< send 123 2 01 >< send 800 0 >< frame 12345 1.0 >"
                    b"< fdframe 123 00 1.0 010203040506070809 >< send 123 1 0x1 >< frame 123 1.0 0 ><<< ok >")
    assert got[0] == (sc.EV_REJECT, sc.REJ_GARBAGE)
    assert got[1] == (sc.EV_HI, None)
    assert got[2] == (sc.EV_REJECT, sc.REJ_UNKNOWN)
    assert [g[1] for g in got[3:9]] == [sc.REJ_SYNTAX] * 6
    assert got[-1] == (sc.EV_OK, None)
    assert sum(p.rejections) == len(got) - 2


def test_buffer_is_bounded():
    p = sc.Parser(capacity=64, max_element=40)
    got = events(p, b"< " + b"A" * 200 + b" >< hi >")
    assert (sc.EV_HI, None) in got
    assert p.rejections[sc.REJ_TOO_LONG] >= 1
    assert p.space() == 64


def test_feed_takes_only_what_fits():
    p = sc.Parser(capacity=16, max_element=12)
    assert p.feed(b"x" * 40) == 16
    assert p.next() == sc.EV_REJECT
    assert p.space() == 16
    assert not raises(Exception, p.next)
