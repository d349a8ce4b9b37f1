# Runs on the qemu firmware (sent by host_tools.arm_qemu): a LittleFS disk in
# the emulated board's second RAM bank (0x20000000, 2 of its 4 MB, unused by
# the firmware, which lives at 0x00000000), mounted at / with a /tmp for the
# tests that write files. Its blocks live outside the MicroPython heap, so
# files cost no heap, and they survive a soft reset (mount(False) finds them
# again). unpack() copies in the files QEMU loaded after it (arm_qemu.write_archive).
import os
import struct
import uctypes
import vfs

_BASE = 0x20000000
_BLOCK = 512
_BLOCKS = 4096  # 2 MB


class RamDisk:
    def __init__(self):
        self.mem = memoryview(uctypes.bytearray_at(_BASE, _BLOCK * _BLOCKS))

    def readblocks(self, n, buf, off=0):
        a = n * _BLOCK + off
        buf[:] = self.mem[a:a + len(buf)]

    def writeblocks(self, n, buf, off=0):
        a = n * _BLOCK + off
        self.mem[a:a + len(buf)] = buf

    def ioctl(self, op, arg):
        if op == 4:
            return _BLOCKS
        if op == 5:
            return _BLOCK
        return 0  # init, deinit, sync, erase: nothing to do in RAM


def mount(new):
    disk = RamDisk()
    if new:
        vfs.VfsLfs2.mkfs(disk)
    vfs.mount(vfs.VfsLfs2(disk), "/")
    os.chdir("/")
    if new:
        os.mkdir("/tmp")


def _makedirs(path):
    parts = path.split("/")[1:-1]
    for i in range(1, len(parts) + 1):
        try:
            os.mkdir("/" + "/".join(parts[:i]))
        except OSError:
            pass


def unpack(addr):
    # The archive: per file a u16 path length, the path, a u32 data length,
    # the data; a zero path length ends it.
    while True:
        n = struct.unpack("<H", uctypes.bytearray_at(addr, 2))[0]
        if n == 0:
            return
        path = bytes(uctypes.bytearray_at(addr + 2, n)).decode()
        size = struct.unpack("<I", uctypes.bytearray_at(addr + 2 + n, 4))[0]
        _makedirs(path)
        with open(path, "wb") as f:
            f.write(uctypes.bytearray_at(addr + 6 + n, size))
        addr += 6 + n + size
