# The per-frame MAC work of SecOC, in plain Python: CMAC block chaining, and
# sealing / checking one secured PDU against an endpoint's state buffer.
# frame_mac_viper has mac_frame and read_bits for MicroPython; both pass the
# same tests. Callers pass every buffer in, so nothing here allocates.
#
# Endpoint state buffer `st` (112 bytes, see secoc._Endpoint):
#   0-1 Data ID (big-endian)   2 FV bytes in the MAC input
#   3 truncated FV bits        4 truncated MAC bits
#   5 length-header bytes      6 CAN FD (0/1)      7 FD padding byte
#   8 complete FV bits         9 longest PDU (the layout's payload_len)
#   16-95 MAC input scratch    96-111 CBC state and tag (x, a memoryview)
# The freshness counters are not in st: an endpoint's CounterFreshness can
# change (a new epoch, the swap of a receiver's keys); mac_frame is handed
# the counter's own buffer.
from keyagent.secoc.bitpack import get_bits, put_bits, put_tag, tag_matches
from keyagent.secoc.freshness import counter_candidate, store_counter
from keyagent.canfd import FD_LENGTH_OF
from keyagent.crypto.bufops import copy_into, fill, xor_into

_SMALL = 0x3FFFFFFF  # the largest counter value of the counter path (a small int on 32 bits)


def cmac_into(enc, sub, msg, off, n, x, out):
    # AES-CMAC of msg[off:off+n] with subkeys sub = K1 || K2. msg must have
    # room for n rounded up to a whole block: the last block is padded in place.
    full = n >> 4
    if n and not n & 15:
        full -= 1
        koff = 0  # a complete last block takes K1
    else:
        koff = 16  # a padded one takes K2
        msg[off + n] = 0x80
        fill(msg, off + n + 1, off + ((full + 1) << 4), 0)
    copy_into(x, 0, msg, off, 16)
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


def mac_frame(enc, sub, st, x, count, buf, plen, fv, out):
    # The MAC of Data ID || PDU || FV (big-endian), into x. With out, seals
    # the PDU buf[0:plen]: writes the secured frame into out and returns its
    # length. With out None, checks the received frame buf, whose PDU of
    # plen bytes follows its length header: returns nonzero when its
    # truncated MAC matches, else 0. 0 also when plen is out of range.
    # fv >= 0 is the FV. fv < 0 takes it from the counter `count` instead
    # (a CounterFreshness's tx_next to seal, rx_min to check): the next value
    # to send, or the first candidate by the counter rule. Then a success
    # advances the counter and a check returns the FV; a counter value or
    # candidate of 2**30 or more, a transmitted FV of more than 30 bits or
    # no counter returns 0 without a MAC, so that the caller goes the
    # general way. Both versions keep these limits, so that they agree.
    if not 0 <= plen <= st[9]:
        return 0
    tb = st[3]
    poff = 0 if out is not None else st[5]
    counted = fv < 0
    if counted:
        if count is None or tb > 30:
            return 0
        nxt = int.from_bytes(count, "little")
        fvb = st[8]
        lim = (1 << fvb) - 1 if fvb < 30 else _SMALL
        if nxt > lim:
            return 0
        fv = nxt
        if out is None:
            if nxt == 0:
                return 0
            last = nxt - 1
            fv = counter_candidate(last, get_bits(buf, (poff + plen) << 3, tb), tb, fvb, 0)
            if fv <= last or fv > lim:
                return 0  # a replay, or past what the counter path takes
    st[16] = st[0]
    st[17] = st[1]
    copy_into(st, 18, buf, poff, plen)
    n = 2 + plen + st[2]
    v = fv
    for i in range(15 + n, 17 + plen, -1):
        st[i] = v & 0xFF
        v >>= 8
    cmac_into(enc, sub, st, 16, n, x, x)
    if out is None:
        if not tag_matches(buf, ((poff + plen) << 3) + tb, x, st[4]):
            return 0
        total = fv if counted else 1
    else:
        h = st[5]
        if h == 2:
            out[0] = plen >> 8
        if h:
            out[h - 1] = plen & 0xFF
        copy_into(out, h, buf, 0, plen)
        pos = h + plen
        end = pos + ((tb + st[4] + 7) >> 3)
        fill(out, pos, end, 0)
        pos <<= 3
        put_bits(out, pos, fv, tb)
        put_tag(out, pos + tb, x, st[4])
        total = frame_length(end, st[6])
        fill(out, end, total, st[7])
    if counted:
        store_counter(count, fv + 1)
    return total


read_bits = get_bits
