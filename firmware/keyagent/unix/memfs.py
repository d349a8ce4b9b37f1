# The OTA filesystem seam (keyagent.ota.fs) in RAM, for the emulator's ECUs
# and the tests; never on a board. A write is visible at once, byte for byte
# (the harsh model: a cut leaves a half-written file behind); before() and
# after() are the hooks a power-cut test overrides.


class _MemFile:
    def __init__(self, fs, path, data, writing):
        self.fs = fs
        self.path = path
        self.data = data
        self.pos = 0
        self.writing = writing

    def read(self, n=-1):
        end = len(self.data) if n < 0 else min(len(self.data), self.pos + n)
        out = bytes(self.data[self.pos:end])
        self.pos = end
        return out

    def write(self, b):
        self.fs.before("write", self.path)
        self.data.extend(b)
        self.fs.after("write", self.path)
        return len(b)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class MemoryFs:
    # Files as bytearrays by path, folders as a set of paths.
    def __init__(self, atomic_rename=True):
        self.files = {}
        self.dirs = set([""])
        self.atomic_rename = atomic_rename

    def before(self, op, path):
        pass

    def after(self, op, path):
        pass

    def _parent_exists(self, p):
        return p.rpartition("/")[0] in self.dirs

    def open(self, p, mode):
        if "w" in mode:
            if not self._parent_exists(p) or p in self.dirs:
                raise OSError(2)
            self.before("create", p)
            self.files[p] = bytearray()
            self.after("create", p)
            return _MemFile(self, p, self.files[p], True)
        if p not in self.files:
            raise OSError(2)
        return _MemFile(self, p, self.files[p], False)

    def rename(self, a, b):
        if a not in self.files or not self._parent_exists(b):
            raise OSError(2)
        if not self.atomic_rename and b in self.files:
            self.remove(b)  # FAT: the old file goes first, a cut may fall between
        self.before("rename", b)
        self.files[b] = self.files.pop(a)
        self.after("rename", b)

    def remove(self, p):
        if p not in self.files:
            raise OSError(2)
        self.before("remove", p)
        del self.files[p]
        self.after("remove", p)

    def mkdir(self, p):
        if p in self.dirs or p in self.files or not self._parent_exists(p):
            raise OSError(17)
        self.before("mkdir", p)
        self.dirs.add(p)
        self.after("mkdir", p)

    def listdir(self, p):
        if p not in self.dirs:
            raise OSError(2)
        prefix = p + "/" if p else ""
        names = set()
        for q in list(self.files) + list(self.dirs):
            if q and q.startswith(prefix):
                names.add(q[len(prefix):].split("/")[0])
        return sorted(names)

    def isdir(self, p):
        return p in self.dirs

    def exists(self, p):
        return p in self.files or p in self.dirs
