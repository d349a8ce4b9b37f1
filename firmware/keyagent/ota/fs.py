# The filesystem seam of the A/B slots: the few operations the update uses,
# so that a test can cut power between any two of them.
#
#   open(path, mode)  "rb" or "wb"; the file has read(n), write(b), close()
#   rename(a, b)      replaces b; atomic on littlefs, unlink + rename on FAT
#   remove(path), mkdir(path), listdir(path) -> names, isdir(path),
#   exists(path)
#
# OsFs is the board's (and the unix port's) flash filesystem under a root
# folder; keyagent.unix.memfs.MemoryFs keeps the files in RAM (the
# emulator's ECUs, tests).
import os

_DIR = 0x4000


class OsFs:
    def __init__(self, root=""):
        self.root = root

    def path(self, p):
        return self.root + "/" + p if self.root else p

    def open(self, p, mode):
        return open(self.path(p), mode)

    def rename(self, a, b):
        os.rename(self.path(a), self.path(b))

    def remove(self, p):
        os.remove(self.path(p))

    def mkdir(self, p):
        os.mkdir(self.path(p))

    def listdir(self, p):
        return os.listdir(self.path(p))

    def _mode(self, p):
        try:
            return os.stat(self.path(p))[0]
        except OSError:
            return None

    def isdir(self, p):
        mode = self._mode(p)
        return mode is not None and mode & _DIR != 0

    def exists(self, p):
        return self._mode(p) is not None
