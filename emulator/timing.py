# CAN and CAN FD bit timing: how long a frame occupies the wire.
#
# Classic CAN (ISO 11898-1, Bosch CAN 2.0): a data frame is
#   SOF 1, arbitration (11-bit ID + RTR, or 11 + SRR + IDE + 18 + RTR),
#   control (IDE/r1 + r0 + DLC 4), data 8n, CRC 15   <- bit-stuffed part
#   CRC delimiter 1, ACK slot 1, ACK delimiter 1, EOF 7, intermission 3.
# Stuffable bits g + 8n with g = 34 (standard) or 54 (extended); with the 13
# fixed-form bits the unstuffed length is g + 8n + 13 (111 bits for an 8-byte
# standard frame) and the worst case adds floor((g + 8n - 1) / 4) stuff bits
# (135 bits). Formula source: R. I. Davis, A. Burns, R. J. Bril, J. J. Lukkien,
# "Controller Area Network (CAN) schedulability analysis: Refuted, revisited
# and revised", Real-Time Systems 35(3), 2007, eq. (1).
#
# CAN FD (ISO 11898-1:2015): arbitration phase at the nominal rate is SOF, ID,
# RRS (or SRR, IDE, ID ext, RRS), IDE, FDF, res, BRS (17 bits standard, 36
# extended). With BRS set, the data phase at the data rate is ESI, DLC 4, data,
# then the CRC field: stuff count (3-bit Gray code + parity) and CRC-17
# (payload <= 16 bytes) or CRC-21, with a fixed stuff bit before the stuff
# count and after every 4 bits (6 or 7 fixed stuff bits), and the CRC
# delimiter (counted in the data phase: the rate switches back at its sample
# point). ACK slot, ACK delimiter, EOF 7 and intermission 3 (12 bits) are at
# the nominal rate. Dynamic stuffing covers SOF to the end of the data field;
# a dynamic stuff bit belongs to the phase of the bit that follows it.
#
# Durations are integer nanoseconds so that virtual time stays exact.
from keyagent.canfd import FD_LENGTHS

NOMINAL_BITRATE = 500_000
DATA_BITRATE = 2_000_000

_CLASSIC_TAIL = 1 + 1 + 1 + 7 + 3  # CRC delimiter, ACK slot, ACK delimiter, EOF, intermission
_FD_NOMINAL_TAIL = 1 + 1 + 7 + 3  # ACK slot, ACK delimiter, EOF, intermission


def len_to_dlc(length, fd):
    """The DLC code for a payload length (ValueError if not a valid length)."""
    if 0 <= length <= 8:
        return length
    if fd and length in FD_LENGTHS:
        return FD_LENGTHS.index(length)
    raise ValueError("invalid %s payload length %d" % ("CAN FD" if fd else "CAN", length))


def crc15(bits):
    """CAN CRC-15 (polynomial 0x4599, initial 0) over a sequence of 0/1 bits."""
    crc = 0
    for b in bits:
        nxt = b ^ ((crc >> 14) & 1)
        crc = (crc << 1) & 0x7FFF
        if nxt:
            crc ^= 0x4599
    return crc


def _int_bits(value, width):
    return [(value >> i) & 1 for i in range(width - 1, -1, -1)]


def _data_bits(data):
    out = []
    for byte in data:
        out.extend(_int_bits(byte, 8))
    return out


def _header_bits(can_id, ext, fd, brs):
    """Bits from SOF through the last arbitration-phase bit (BRS for FD)."""
    if ext:
        bits = [0] + _int_bits(can_id >> 18, 11) + [1, 1] + _int_bits(can_id & 0x3FFFF, 18)
    else:
        bits = [0] + _int_bits(can_id, 11)
    if fd:
        # RRS, (IDE for standard), FDF=1, res=0, BRS
        bits += [0] if ext else [0, 0]
        bits += [1, 0, 1 if brs else 0]
    else:
        # RTR, then IDE + r0 (standard) or r1 + r0 (extended): all dominant
        bits += [0, 0, 0]
    return bits


def count_stuff_bits(bits, boundary=None):
    """Stuff bits inserted into `bits` (5 equal bits -> 1 complement bit; the
    stuff bit starts the next run). With `boundary` (an index into bits),
    returns (stuff before boundary, stuff at or after it)."""
    before = after = 0
    last = -1
    run = 0
    for i, b in enumerate(bits):
        if b == last:
            run += 1
        else:
            last = b
            run = 1
        if run == 5:
            if boundary is not None and i + 1 < boundary:
                before += 1
            else:
                after += 1
            last = 1 - b
            run = 1
    return (before, after) if boundary is not None else before + after


def _worst_stuff(stuffable, boundary=None):
    # Worst case: a stuff bit after unstuffed bit 5, 9, 13, ... (floor((L-1)/4)).
    positions = range(5, stuffable + 1, 4)
    if boundary is None:
        return len(positions)
    before = sum(1 for p in positions if p < boundary)
    return before, len(positions) - before


class FrameBits:
    """Bit counts of one frame: `nominal` bits at the nominal rate and `data`
    bits at the data rate (0 unless CAN FD with BRS)."""

    __slots__ = ("nominal", "data")

    def __init__(self, nominal, data):
        self.nominal = nominal
        self.data = data

    def __repr__(self):
        return "FrameBits(nominal=%d, data=%d)" % (self.nominal, self.data)


def frame_bits(length, ext=False, fd=False, brs=False, stuffing="worst", can_id=0, data=None):
    """Bit counts of a data frame with `length` payload bytes.

    stuffing: "none", "worst" (upper bound), or "exact" (needs can_id and
    data; stuffs the actual bits, for classic CAN including the CRC-15)."""
    dlc = len_to_dlc(length, fd)
    if stuffing == "exact":
        if data is None or len(data) != length:
            raise ValueError("exact stuffing needs the frame's data")
        bits = _header_bits(can_id, ext, fd, brs)
        boundary = len(bits)
        if fd:
            bits = bits + [0] + _int_bits(dlc, 4) + _data_bits(data)  # ESI, DLC, data
        else:
            bits = bits + _int_bits(dlc, 4) + _data_bits(data)
            bits += _int_bits(crc15(bits), 15)
        stuff = count_stuff_bits(bits, boundary)
    elif stuffing not in ("worst", "none"):
        raise ValueError("stuffing must be none, worst or exact")
    if not fd:
        stuffable = (54 if ext else 34) + 8 * length
        if stuffing == "exact":
            n_stuff = stuff[0] + stuff[1]
        else:
            n_stuff = _worst_stuff(stuffable) if stuffing == "worst" else 0
        return FrameBits(stuffable + n_stuff + _CLASSIC_TAIL, 0)
    arb = 36 if ext else 17
    data_part = 1 + 4 + 8 * length  # ESI, DLC, data
    crc_len = 17 if length <= 16 else 21
    fixed_stuff = 6 if crc_len == 17 else 7
    crc_field = 4 + crc_len + fixed_stuff + 1  # stuff count, CRC, fixed stuff, delimiter
    if stuffing == "exact":
        s_arb, s_data = stuff
    elif stuffing == "worst":
        s_arb, s_data = _worst_stuff(arb + data_part, arb)
    else:
        s_arb = s_data = 0
    fast = data_part + s_data + crc_field
    slow = arb + s_arb + _FD_NOMINAL_TAIL
    if brs:
        return FrameBits(slow, fast)
    return FrameBits(slow + fast, 0)


def frame_duration_ns(length, ext=False, fd=False, brs=False, stuffing="worst",
                      nominal_bitrate=NOMINAL_BITRATE, data_bitrate=DATA_BITRATE,
                      can_id=0, data=None):
    """Wire time of a frame in integer nanoseconds (rounded up)."""
    fb = frame_bits(length, ext, fd, brs, stuffing, can_id, data)
    ns = fb.nominal * 1_000_000_000 // nominal_bitrate
    if fb.data:
        ns += -(-fb.data * 1_000_000_000 // data_bitrate)
    return ns


def bus_load(frames_per_period, nominal_bitrate=NOMINAL_BITRATE, data_bitrate=DATA_BITRATE,
             stuffing="worst"):
    """Bus load (0..1+) of periodic traffic.

    frames_per_period: iterable of (period_ns, length, ext, fd, brs)."""
    load = 0.0
    for period_ns, length, ext, fd, brs in frames_per_period:
        d = frame_duration_ns(length, ext, fd, brs, stuffing, nominal_bitrate, data_bitrate)
        load += d / period_ns
    return load
