# The rounds of keyagent.crypto.aes_soft under the viper emitter (MicroPython only);
# aes_soft wraps them in ViperAes. Nothing here imports aes_soft (no cycle).
# Same byte-oriented algorithm and buffer layout, so the two pass the same
# vectors; only the inner loop is compiled to machine code.
import micropython


@micropython.viper
def encrypt_block(tab: ptr8, ctx: ptr8, src: ptr8, dst: ptr8):
    # tab: S-box at 0, doubling table at 256, ShiftRows gather at 512.
    # ctx: round keys at 0, state at 176, scratch at 192.
    for i in range(16):
        ctx[176 + i] = src[i] ^ ctx[i]
    rk = 16
    for _ in range(9):
        for i in range(16):
            ctx[192 + i] = tab[ctx[176 + tab[512 + i]]]
        c = 192
        while c < 208:
            a0 = ctx[c]
            a1 = ctx[c + 1]
            a2 = ctx[c + 2]
            a3 = ctx[c + 3]
            e = a0 ^ a1 ^ a2 ^ a3
            o = c - 16
            ctx[o] = a0 ^ e ^ tab[256 + (a0 ^ a1)] ^ ctx[rk]
            ctx[o + 1] = a1 ^ e ^ tab[256 + (a1 ^ a2)] ^ ctx[rk + 1]
            ctx[o + 2] = a2 ^ e ^ tab[256 + (a2 ^ a3)] ^ ctx[rk + 2]
            ctx[o + 3] = a3 ^ e ^ tab[256 + (a3 ^ a0)] ^ ctx[rk + 3]
            rk += 4
            c += 4
    for i in range(16):
        dst[i] = tab[ctx[176 + tab[512 + i]]] ^ ctx[160 + i]
