# Property tests for keyagent.isotp.connection (CPython, hypothesis): any message
# round-trips under any valid configuration, and no sequence of frames from a
# peer raises; only counted rejections come out.
from hypothesis import given, settings, strategies as st

from keyagent.isotp import frames as F
from keyagent.isotp.connection import IsoTpConnection, IsoTpReceiver, IsoTpSender

STMIN = st.one_of(st.integers(0, 5), st.integers(0xF1, 0xF9), st.just(0x7F))
PADDING = st.one_of(st.none(), st.integers(0, 255))


@st.composite
def configs(draw):
    fd = draw(st.booleans())
    tx_dl = draw(st.sampled_from([n for n in F.FD_LENGTHS if n >= 8])) if fd else 8
    return fd, tx_dl, draw(PADDING), draw(st.integers(0, 5)), draw(STMIN)


@settings(max_examples=150, deadline=None)
@given(cfg=configs(), data=st.binary(min_size=1, max_size=700))
def test_round_trip(cfg, data):
    fd, tx_dl, padding, bs, stmin = cfg
    tx = IsoTpSender(fd=fd, tx_dl=tx_dl, padding=padding)
    rx = IsoTpReceiver(max_size=700, fd=fd, block_size=bs, stmin=stmin, padding=padding)
    tx.send(data, 0)
    now, got, frames = 0, None, 0
    while tx.busy():
        frame = tx.poll(now)
        if frame is None:
            now = tx.next_deadline_ms()
            continue
        frames += 1
        assert len(frame) <= tx_dl and (len(frame) <= 8 or len(frame) in F.FD_LENGTHS)
        if padding is not None:
            assert len(frame) >= 8
        fc = rx.on_frame(frame, now)
        got = rx.pop_message() or got
        if fc is not None:
            tx.on_frame(fc, now)
    assert got == data and tx.sent == 1 and rx.rejected == {}
    gap_ms = (F.stmin_us(stmin) + 999) // 1000 + (1 if stmin else 0)
    assert now <= frames * gap_ms  # never slower than STmin (kept on a ms clock) asks


frames = st.one_of(
    st.binary(max_size=64),
    st.tuples(st.integers(0, 3), st.integers(0, 15), st.binary(max_size=63)).map(
        lambda t: bytes([(t[0] << 4) | t[1]]) + t[2]
    ),
)


@settings(max_examples=200, deadline=None)
@given(fd=st.booleans(), bs=st.integers(0, 3), seq=st.lists(st.tuples(frames, st.integers(0, 3000)), max_size=40))
def test_peer_garbage_never_raises(fd, bs, seq):
    conn = IsoTpConnection(IsoTpSender(fd=fd), IsoTpReceiver(max_size=200, fd=fd, block_size=bs))
    conn.send(bytes(300), 0)
    now = 0
    for frame, dt in seq:
        now += dt
        conn.on_frame(frame, now)
        msg = conn.pop_message()
        assert msg is None or 1 <= len(msg) <= 200
        for out in conn.poll(now):
            assert 1 <= len(out) <= 64
    # Reaching here is the property: every frame was taken without raising.
