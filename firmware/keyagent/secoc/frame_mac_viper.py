# Viper version of keyagent.secoc.frame_mac's per-frame entry point (same state
# buffer layout, same tests). Sealing or checking one frame is a single
# native call around the AES block call: on the unix port a viper-to-viper
# call costs more than an AES block (bench/mpy_secoc.py), so this function
# does all of the frame's work itself. Viper has no bounds checks: the
# callers in keyagent.secoc.engine validate every length first. Integers are
# machine words, 32 bits on a Cortex-M and 64 on x86-64, so the contract is
# what holds on both (tests/keyagent/test_viper_contract.py): a freshness value
# 0 <= fv < 2**32, truncated to at most 32 bits, and read_bits of at most 32
# bits; secoc sends wider values the plain way.
import micropython

from keyagent.canfd import FD_LENGTH_OF


@micropython.viper
def mac_frame(enc, sub: ptr8, st: ptr8, m: ptr8, x, tag, buf: ptr8, poff: int,
              plen: int, fv: int, out) -> int:
    # MAC input: Data ID || buf[poff:poff+plen] || FV (big-endian)
    m[0] = st[0]
    m[1] = st[1]
    for i in range(plen):
        m[2 + i] = buf[poff + i]
    n = 2 + plen + st[2]
    i = n - 1
    v = uint(fv)  # unsigned: >> must fill with zeros, also past bit 31 on a 32-bit core
    while i > 1 + plen:
        m[i] = v & 0xFF
        v = v >> 8
        i -= 1
    # AES-CMAC, padding the last block in place
    px = ptr8(x)
    for i in range(16):
        px[i] = 0
    full = n >> 4
    koff = 16
    if n != 0 and (n & 15) == 0:
        full -= 1
        koff = 0
    else:
        m[n] = 0x80
        for i in range(n + 1, (full + 1) << 4):
            m[i] = 0
    off = 0
    for _ in range(full):
        for i in range(16):
            px[i] ^= m[off + i]
        enc(x, x)
        off += 16
    for i in range(16):
        px[i] ^= m[off + i] ^ sub[koff + i]
    enc(x, tag)
    pt = ptr8(tag)
    tb = st[3]
    rem = st[4]
    if not out:
        # Check (out is None): compare the truncated MAC, in constant time.
        bit = ((poff + plen) << 3) + tb
        b = bit >> 3
        s = bit & 7
        k = 0
        diff = 0
        while rem > 0:
            w = buf[b] << s
            if s != 0 and rem > 8 - s:
                w |= buf[b + 1] >> (8 - s)
            w &= 0xFF
            t = pt[k]
            if rem < 8:
                mask = (0xFF << (8 - rem)) & 0xFF
                w &= mask
                t &= mask
            diff |= w ^ t
            rem -= 8
            k += 1
            b += 1
        return 1 if diff == 0 else 0
    # Seal: [header] || PDU || truncated FV || truncated MAC || FD padding
    po = ptr8(out)
    h = st[5]
    if h == 2:
        po[0] = plen >> 8
    if h != 0:
        po[h - 1] = plen & 0xFF
    for i in range(plen):
        po[h + i] = buf[poff + i]
    pos = h + plen
    end = pos + ((tb + rem + 7) >> 3)
    for i in range(pos, end):
        po[i] = 0
    bit = pos << 3
    k = tb - 1
    while k >= 0:
        po[bit >> 3] |= int((uint(fv) >> k) & 1) << (7 - (bit & 7))
        bit += 1
        k -= 1
    b = bit >> 3
    s = bit & 7
    k = 0
    while rem > 0:
        t = pt[k]
        if rem < 8:
            t &= (0xFF << (8 - rem)) & 0xFF
        po[b] |= t >> s
        if s != 0 and rem > 8 - s:
            po[b + 1] |= (t << (8 - s)) & 0xFF
        rem -= 8
        k += 1
        b += 1
    total = end
    if end > 8 and st[6] != 0:
        lengths = ptr8(FD_LENGTH_OF)
        total = lengths[end]
    for i in range(end, total):
        po[i] = st[7]
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
