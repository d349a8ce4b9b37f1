# Viper version of keyagent.secoc.frame_mac's per-frame entry point (same state
# buffer layout, same contract, same tests). Sealing or checking one frame,
# freshness included, is a single native call around the AES block call: a
# call costs more than the viper work it would move (bench/arm_secoc.py), so
# this function does all of the frame's work itself. Viper has no bounds
# checks: the callers in keyagent.secoc.engine validate every length first,
# and this function checks plen against the PDU's length in st itself.
# Integers are machine words, 32 bits on a Cortex-M and 64 on x86-64, so the
# contract is what holds on both (tests/keyagent/test_viper_contract.py): a
# given freshness value 0 <= fv < 2**31 (a negative one asks for the
# counter path) truncated to at most 32 bits, counter values below 2**30
# (beyond: return 0, the caller goes the plain way), and read_bits of at
# most 32 bits.
# st, x and sub are word-aligned (heap bytearrays, slices of st at multiples
# of 16): the 16-byte CMAC steps go a word at a time.
import micropython

from keyagent.canfd import FD_LENGTH_OF


@micropython.viper
def mac_frame(enc, sub: ptr8, st: ptr8, x, count, buf: ptr8, plen: int, fv: int, out) -> int:
    tb = st[3]
    if plen < 0 or plen > st[9]:
        return 0
    poff = 0
    if not out:
        poff = st[5]  # a received frame: the PDU follows its length header
    counted = fv < 0
    pc = ptr8(0)
    if counted:
        # The FV from a counter (CounterFreshness.tx_next / rx_min): 9 bytes,
        # little-endian, the next value to send or the lowest one accepted.
        if not count or tb > 30:
            return 0
        pc = ptr8(count)
        if pc[3] >= 0x40 or (pc[4] | pc[5] | pc[6] | pc[7] | pc[8]) != 0:
            return 0  # 2**30 or more: not a small int on a 32-bit core
        nxt = pc[0] | (pc[1] << 8) | (pc[2] << 16) | (pc[3] << 24)
        fvb = st[8]
        lim = 0x3FFFFFFF
        if fvb < 30:
            lim = (1 << fvb) - 1
        if nxt > lim:
            return 0  # exhausted, or nothing newer fits a small int
        fv = nxt
        if not out:
            if nxt == 0:
                return 0  # last accepted -1 (nothing yet): the plain way
            last = nxt - 1
            # The truncated FV, then the candidate by the counter rule
            # (CounterFreshness.candidate, first attempt).
            bit = (poff + plen) << 3
            fv = 0
            k = tb
            while k > 0:
                s = bit & 7
                take = 8 - s
                if take > k:
                    take = k
                fv = (fv << take) | ((buf[bit >> 3] >> (8 - s - take)) & ((1 << take) - 1))
                bit += take
                k -= take
            if tb != fvb:
                high = last >> tb
                if fv <= (last & ((1 << tb) - 1)):
                    high += 1
                fv = (high << tb) | fv
            if fv <= last or fv > lim:
                return 0  # a replay, or past what the counter path takes
    # MAC input in st[16:]: Data ID || buf[poff:poff+plen] || FV (big-endian),
    # over a zeroed last block, which is then padded in place for AES-CMAC.
    n = 2 + plen + st[2]
    full = n >> 4
    koff = 4  # word offset of K2 in sub
    pad = (n & 15) != 0
    if not pad:
        full -= 1
        koff = 0  # K1
    pm = ptr32(st)
    w = 4 + (full << 2)  # the last block of st[16:], in words
    pm[w] = 0
    pm[w + 1] = 0
    pm[w + 2] = 0
    pm[w + 3] = 0
    st[16] = st[0]
    st[17] = st[1]
    for i in range(plen):
        st[18 + i] = buf[poff + i]
    i = 15 + n
    v = uint(fv)  # unsigned: >> must fill with zeros, also past bit 31 on a 32-bit core
    while i > 17 + plen:
        st[i] = v & 0xFF
        v = v >> 8
        i -= 1
    if pad:
        st[16 + n] = 0x80
    px = ptr32(x)
    w = 4  # st[16:] in words
    px[0] = pm[4]
    px[1] = pm[5]
    px[2] = pm[6]
    px[3] = pm[7]
    for _ in range(full):
        enc(x, x)
        w += 4
        px[0] ^= pm[w]
        px[1] ^= pm[w + 1]
        px[2] ^= pm[w + 2]
        px[3] ^= pm[w + 3]
    ps = ptr32(sub)
    px[0] ^= ps[koff]
    px[1] ^= ps[koff + 1]
    px[2] ^= ps[koff + 2]
    px[3] ^= ps[koff + 3]
    enc(x, x)
    pt = ptr8(px)
    rem = st[4]
    if not out:
        # Check: compare the truncated MAC in constant time, its whole
        # bytes, then the bits of a partial last one (the branches depend
        # on the layout only).
        bit = ((poff + plen) << 3) + tb
        b = bit >> 3
        s = bit & 7
        nb = rem >> 3
        diff = 0
        if s == 0:
            for k in range(nb):
                diff |= buf[b + k] ^ pt[k]
        else:
            for k in range(nb):
                diff |= (((buf[b + k] << s) | (buf[b + k + 1] >> (8 - s))) ^ pt[k]) & 0xFF
        rem &= 7
        if rem != 0:
            w = buf[b + nb] << s
            if s + rem > 8:
                w |= buf[b + nb + 1] >> (8 - s)
            diff |= (w ^ pt[nb]) & ((0xFF << (8 - rem)) & 0xFF)
        if diff != 0:
            return 0
        total = 1
        if counted:
            total = fv  # > 0: the last accepted value was at least 0
    else:
        # Seal: [header] || PDU || truncated FV || truncated MAC || FD padding
        po = ptr8(out)
        h = st[5]
        if h == 2:
            po[0] = plen >> 8
        if h != 0:
            po[h - 1] = plen & 0xFF
        for i in range(plen):
            po[h + i] = buf[i]
        pos = h + plen
        end = pos + ((tb + rem + 7) >> 3)
        for i in range(pos, end):
            po[i] = 0
        bit = pos << 3
        v = uint(fv)
        k = tb
        while k > 0:
            s = bit & 7
            take = 8 - s
            if take > k:
                take = k
            po[bit >> 3] |= int((v >> (k - take)) & uint((1 << take) - 1)) << (8 - s - take)
            bit += take
            k -= take
        # The truncated MAC after it (out[pos:end] is zeroed), as above.
        b = bit >> 3
        s = bit & 7
        nb = rem >> 3
        if s == 0:
            for k in range(nb):
                po[b + k] = pt[k]
        else:
            for k in range(nb):
                t = pt[k]
                po[b + k] |= t >> s
                po[b + k + 1] |= (t << (8 - s)) & 0xFF
        rem &= 7
        if rem != 0:
            t = pt[nb] & ((0xFF << (8 - rem)) & 0xFF)
            po[b + nb] |= t >> s
            if s + rem > 8:
                po[b + nb + 1] |= (t << (8 - s)) & 0xFF
        total = end
        if end > 8 and st[6] != 0:
            lengths = ptr8(FD_LENGTH_OF)
            total = lengths[end]
        for i in range(end, total):
            po[i] = st[7]
    if counted:
        # The counter's value was used: the next one is fv + 1 (<= 2**30).
        nxt = fv + 1
        pc[0] = nxt & 0xFF
        pc[1] = (nxt >> 8) & 0xFF
        pc[2] = (nxt >> 16) & 0xFF
        pc[3] = nxt >> 24
    return total


@micropython.viper
def read_bits(buf: ptr8, pos: int, nbits: int) -> uint:
    # Unsigned, so that 32 bits with the top one set come back positive on a
    # 32-bit core too (as an int they would be negative there).
    v = uint(0)
    for k in range(nbits):
        p = pos + k
        v = (v << 1) | uint((buf[p >> 3] >> (7 - (p & 7))) & 1)
    return v
