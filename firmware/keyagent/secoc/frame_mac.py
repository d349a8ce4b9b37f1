# The per-frame MAC work of SecOC, in plain Python: CMAC block chaining, and
# sealing / checking one secured PDU against an endpoint's state buffer.
# frame_mac_viper has mac_frame and read_bits for MicroPython; both pass the
# same tests. Callers pass every buffer in, so nothing here allocates.
#
# Endpoint state buffer `st` (128 bytes, see secoc._Endpoint):
#   0-1 Data ID (big-endian)   2 FV bytes in the MAC input
#   3 truncated FV bits        4 truncated MAC bits
#   5 length-header bytes      6 CAN FD (0/1)      7 FD padding byte
#   16-95 MAC input scratch (m)   96-111 CBC state (x)   112-127 tag
from keyagent.secoc.bitpack import get_bits, put_bits, put_tag, tag_matches
from keyagent.canfd import FD_LENGTH_OF
from keyagent.crypto.bufops import copy_into, fill, xor_into


def cmac_into(enc, sub, msg, n, x, out):
    # AES-CMAC of msg[0:n] with subkeys sub = K1 || K2. msg must have room for
    # n rounded up to a whole block: the last block is padded in place.
    full = n >> 4
    if n and not n & 15:
        full -= 1
        koff = 0  # a complete last block takes K1
    else:
        koff = 16  # a padded one takes K2
        msg[n] = 0x80
        fill(msg, n + 1, (full + 1) << 4, 0)
    copy_into(x, 0, msg, 0, 16)
    off = 0
    for _ in range(full):
        enc(x, x)
        off += 16
        xor_into(x, msg, off, 16)
    xor_into(x, sub, koff, 16)
    enc(x, out)


def frame_length(n, fd):
    # The CAN frame length that carries n bytes (CAN FD has DLC steps).
    if n <= 8:
        return n
    return FD_LENGTH_OF[n] if fd and n <= 64 else -1


def mac_frame(enc, sub, st, m, x, tag, buf, poff, plen, fv, out):
    # Computes the MAC of Data ID || buf[poff:poff+plen] || FV (big-endian)
    # into tag. With out, seals: writes the secured frame into out and
    # returns its length. With out None, checks: returns 1 when buf's
    # truncated MAC matches, else 0.
    m[0] = st[0]
    m[1] = st[1]
    copy_into(m, 2, buf, poff, plen)
    n = 2 + plen + st[2]
    v = fv
    for i in range(n - 1, 1 + plen, -1):
        m[i] = v & 0xFF
        v >>= 8
    cmac_into(enc, sub, m, n, x, tag)
    if out is None:
        return 1 if tag_matches(buf, ((poff + plen) << 3) + st[3], tag, st[4]) else 0
    h = st[5]
    if h == 2:
        out[0] = plen >> 8
    if h:
        out[h - 1] = plen & 0xFF
    copy_into(out, h, buf, poff, plen)
    pos = h + plen
    end = pos + ((st[3] + st[4] + 7) >> 3)
    fill(out, pos, end, 0)
    pos <<= 3
    put_bits(out, pos, fv, st[3])
    put_tag(out, pos + st[3], tag, st[4])
    total = frame_length(end, st[6])
    fill(out, end, total, st[7])
    return total


read_bits = get_bits
