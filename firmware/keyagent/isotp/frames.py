# ISO 15765-2 (ISO-TP) frame layout shared by the sender and the receiver:
# protocol control information (PCI), CAN FD frame lengths, padding, STmin.
# Normal addressing: the PCI is byte 0 of the CAN data.
#
#   SF  0L dd..          L = SF_DL 1..7 (CAN_DL <= 8)
#   SF  00 LL dd..       CAN FD escape, CAN_DL > 8, SF_DL in byte 1
#   FF  1L LL dd..       FF_DL 12 bits, 8..4095
#   FF  10 00 LLLLLLLL   FF_DL escape, 32 bits, > 4095
#   CF  2N dd..          N = sequence number, 1, 2, .. 15, 0, 1, ..
#   FC  3S BS ST         S = 0 CTS, 1 WAIT, 2 OVFLW; block size; STmin
from keyagent.compat import const

PCI_SF = const(0)
PCI_FF = const(1)
PCI_CF = const(2)
PCI_FC = const(3)

FS_CTS = const(0)
FS_WAIT = const(1)
FS_OVFLW = const(2)

DEFAULT_PAD = const(0xCC)
FF_DL_12BIT_MAX = const(4095)

# Data lengths a CAN FD frame can have (DLC 0..15).
FD_LENGTHS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64)


def valid_tx_dl(fd, tx_dl):
    if not fd:
        return tx_dl == 8
    return tx_dl >= 8 and tx_dl in FD_LENGTHS


def frame_length(n, padding):
    # The CAN data length a frame with n meaningful bytes goes out with.
    # Classic CAN: 8 when padding, else n. CAN FD above 8 bytes: the next
    # valid length (padding is then mandatory, ISO 15765-2:2016 10.4.2.3).
    if n <= 8:
        return 8 if padding is not None else n
    for length in FD_LENGTHS:
        if length >= n:
            return length
    raise ValueError("frame longer than 64 bytes")


def finish(buf, n, padding):
    # Pads buf[0:n] in place and returns the frame as bytes.
    length = frame_length(n, padding)
    fill = DEFAULT_PAD if padding is None else padding
    for i in range(n, length):
        buf[i] = fill
    return bytes(buf[0:length])


def sf_capacity(tx_dl):
    # Largest payload a single frame carries at this TX_DL.
    return 7 if tx_dl == 8 else tx_dl - 2


def valid_stmin(raw):
    return 0 <= raw <= 0x7F or 0xF1 <= raw <= 0xF9


def stmin_us(raw):
    # STmin byte to microseconds; reserved values count as 127 ms (ISO
    # 15765-2:2016 9.6.5.4).
    if raw <= 0x7F:
        return raw * 1000
    if 0xF1 <= raw <= 0xF9:
        return (raw - 0xF0) * 100
    return 127000


def flow_control(buf, status, block_size, stmin, padding):
    buf[0] = 0x30 | status
    buf[1] = block_size
    buf[2] = stmin
    return finish(buf, 3, padding)


def count(table, reason):
    table[reason] = table.get(reason, 0) + 1
