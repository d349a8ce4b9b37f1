# Viper CRC-32 for keyagent.optical.link on MicroPython: 32-bit native
# arithmetic, so no long ints and no heap allocation per byte or per frame.
# Same contract as module_link._crc32_plain_into.
import array
import micropython

# The 16-entry (nibble) table of the reflected polynomial 0xEDB88320.
_TABLE = array.array("I", (
    0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
    0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C))


@micropython.viper
def crc32_into(buf: ptr8, n: int, out: ptr8, off: int):
    t = ptr32(_TABLE)
    ones = (uint(0xFFFF) << 16) | uint(0xFFFF)  # 32 bits, also where a uint has 64
    crc = ones
    for i in range(n):
        crc ^= uint(buf[i])
        crc = (crc >> 4) ^ uint(t[int(crc & 15)])
        crc = (crc >> 4) ^ uint(t[int(crc & 15)])
    crc ^= ones
    out[off] = int(crc >> 24) & 0xFF
    out[off + 1] = int(crc >> 16) & 0xFF
    out[off + 2] = int(crc >> 8) & 0xFF
    out[off + 3] = int(crc) & 0xFF
