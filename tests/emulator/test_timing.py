# CAN / CAN FD frame lengths against the published formula (Davis et al. 2007,
# eq. 1) and bit counts worked out by hand from ISO 11898-1 field lengths.
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.timing import FD_LENGTHS, bus_load, count_stuff_bits, crc15, frame_bits, frame_duration_ns


def test_classic_standard_8_bytes_is_111_bits_unstuffed_135_worst():
    assert frame_bits(8, stuffing="none").nominal == 111
    assert frame_bits(8).nominal == 135


def test_classic_matches_davis_formula_for_every_length():
    for ext, g in ((False, 34), (True, 54)):
        for n in range(9):
            assert frame_bits(n, ext, stuffing="none").nominal == g + 8 * n + 13
            assert frame_bits(n, ext).nominal == g + 8 * n + 13 + (g + 8 * n - 1) // 4


def test_extended_8_bytes():
    assert frame_bits(8, ext=True, stuffing="none").nominal == 131
    assert frame_bits(8, ext=True).nominal == 160


def test_duration_at_500k():
    assert frame_duration_ns(8) == 135 * 2000
    assert frame_duration_ns(8, stuffing="none") == 222_000


def test_crc15_check_value():
    # CRC-15/CAN catalogue check value: CRC of ASCII "123456789" is 0x059E
    bits = [(c >> i) & 1 for c in b"123456789" for i in range(7, -1, -1)]
    assert crc15(bits) == 0x059E


def test_exact_stuffing_all_zero_frame():
    # ID 0, DLC 0: SOF..DLC are 19 dominant bits and the CRC of zeros is 0, so
    # 34 zeros in a row: a stuff bit after every 5 -> 6 stuff bits.
    assert frame_bits(0, stuffing="exact", can_id=0, data=b"").nominal == 34 + 6 + 13


def test_stuff_rule_counts_stuff_bit_in_next_run():
    assert count_stuff_bits([0] * 5) == 1
    assert count_stuff_bits([0] * 5 + [1] * 4) == 2  # stuff bit 1 + four 1s = run of 5
    assert count_stuff_bits([0, 1] * 20) == 0


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 0x7FF), st.binary(min_size=0, max_size=8), st.booleans())
def test_exact_between_unstuffed_and_worst(can_id, data, ext):
    if ext:
        can_id |= 0x1000000
    n = len(data)
    exact = frame_bits(n, ext, stuffing="exact", can_id=can_id, data=data).nominal
    assert frame_bits(n, ext, stuffing="none").nominal <= exact <= frame_bits(n, ext).nominal


def test_fd_field_counts():
    # standard ID, BRS: 17 arbitration + 12 tail bits nominal; ESI+DLC+data,
    # stuff count 4, CRC-17 + 6 fixed stuff bits, CRC delimiter at the data rate
    fb = frame_bits(8, fd=True, brs=True, stuffing="none")
    assert (fb.nominal, fb.data) == (29, 5 + 64 + 4 + 17 + 6 + 1)
    fb = frame_bits(64, fd=True, brs=True, stuffing="none")
    assert (fb.nominal, fb.data) == (29, 5 + 512 + 4 + 21 + 7 + 1)
    fb = frame_bits(64, ext=True, fd=True, brs=True, stuffing="none")
    assert fb.nominal == 36 + 12
    # without BRS the whole frame runs at the nominal rate
    fb = frame_bits(16, fd=True, brs=False, stuffing="none")
    assert (fb.nominal, fb.data) == (29 + 5 + 128 + 4 + 17 + 6 + 1, 0)


def test_fd_duration_64_bytes_brs():
    fb = frame_bits(64, fd=True, brs=True)
    assert frame_duration_ns(64, fd=True, brs=True) == fb.nominal * 2000 + fb.data * 500


def test_fd_lengths_validated():
    for n in FD_LENGTHS:
        frame_bits(n, fd=True)
    for n in (9, 13, 65):
        with pytest.raises(ValueError):
            frame_bits(n, fd=True)
    with pytest.raises(ValueError):
        frame_bits(12)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 0x7FF), st.sampled_from(FD_LENGTHS), st.data())
def test_fd_exact_between_bounds(can_id, n, data):
    payload = data.draw(st.binary(min_size=n, max_size=n))
    exact = frame_bits(n, fd=True, brs=True, stuffing="exact", can_id=can_id, data=payload)
    none = frame_bits(n, fd=True, brs=True, stuffing="none")
    worst = frame_bits(n, fd=True, brs=True)
    assert none.nominal + none.data <= exact.nominal + exact.data <= worst.nominal + worst.data


def test_bus_load():
    # one 8-byte standard frame every 1 ms: 270 us of 1000 us worst case
    assert bus_load([(1_000_000, 8, False, False, False)]) == pytest.approx(0.27)
