# MSB-first bit packing for secured PDUs, whose truncated freshness value
# and truncated MAC need not start or end on a byte boundary. Bit 0 is the
# most significant bit of buf[0]. Nothing here allocates for small values.


def put_bits(buf, bitpos, value, nbits):
    # Writes the low nbits of value at bitpos, leaving other bits alone.
    while nbits > 0:
        i = bitpos >> 3
        room = 8 - (bitpos & 7)
        take = nbits if nbits < room else room
        shift = room - take
        mask = ((1 << take) - 1) << shift
        chunk = ((value >> (nbits - take)) << shift) & mask
        buf[i] = (buf[i] & ~mask & 0xFF) | chunk
        bitpos += take
        nbits -= take


def get_bits(buf, bitpos, nbits):
    value = 0
    while nbits > 0:
        i = bitpos >> 3
        room = 8 - (bitpos & 7)
        take = nbits if nbits < room else room
        shift = room - take
        value = (value << take) | ((buf[i] >> shift) & ((1 << take) - 1))
        bitpos += take
        nbits -= take
    return value


def put_tag(buf, bitpos, tag, nbits):
    # Writes the first nbits of the byte string tag (its most significant
    # bits: the truncated MAC) at bitpos.
    i = 0
    while nbits >= 8:
        put_bits(buf, bitpos, tag[i], 8)
        bitpos += 8
        nbits -= 8
        i += 1
    if nbits:
        put_bits(buf, bitpos, tag[i] >> (8 - nbits), nbits)


def tag_matches(buf, bitpos, tag, nbits):
    # Constant-time comparison of the nbits at bitpos with the first nbits
    # of tag: every byte is looked at whatever the first difference.
    diff = 0
    i = 0
    while nbits >= 8:
        diff |= get_bits(buf, bitpos, 8) ^ tag[i]
        bitpos += 8
        nbits -= 8
        i += 1
    if nbits:
        diff |= get_bits(buf, bitpos, nbits) ^ (tag[i] >> (8 - nbits))
    return diff == 0
