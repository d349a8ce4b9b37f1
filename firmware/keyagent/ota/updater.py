# One ECU's update steps, in the order UDS drives them (docs/ota.md):
#   erase()            the inactive slot (RoutineControl 0xFF00)
#   start(size)        a download of `size` image bytes (RequestDownload)
#   write(data)        the next bytes (TransferData): the header and manifest
#                      are authenticated as soon as they are complete, each
#                      file is hashed while it is written (an older version
#                      is refused by check(): TransferData has no standard
#                      NRC for "conditions not correct")
#   finish()           every byte arrived; the header, kept on flash as
#                      image.hdr.tmp meanwhile, is renamed into place last
#                      (RequestTransferExit)
#   check()            the slot, read back from flash (RoutineControl 0x0202)
#   activate()         the slot goes on trial (RoutineControl 0xFF01)
#   poll(now, normal)  probation: confirm when the agent is normal, roll back
#                      when it is not within probation_ms of the first poll;
#                      returns True when the board must reset
# A refused step raises ImageError(reason) and counts the reason; the UDS
# server turns it into a negative response.
import hashlib

from keyagent.crypto.bufops import ct_equal
from keyagent.ota import image as I
from keyagent.ota.slots import HDR, HDR_TMP, ROOT

PROBATION_MS = 60000


class _Download:
    def __init__(self, store, slot, size):
        self.store = store
        self.top = ROOT + "/" + slot + "/"
        self.size = size
        self.got = 0
        self.head = bytearray()
        self.need = I.HEAD_LEN
        self.manifest = None
        self.index = -1
        self.left = 0
        self.file = None
        self.hash = None

    def write(self, data):
        if self.got + len(data) > self.size:
            raise I.ImageError("overrun")
        self.got += len(data)
        off = 0
        while off < len(data):
            if self.manifest is None:
                take = min(self.need - len(self.head), len(data) - off)
                self.head.extend(data[off:off + take])
                off += take
                if len(self.head) == self.need:
                    self._head_part_done()
                continue
            if self.file is None:
                self._next_file()
                if self.file is None:
                    raise I.ImageError("overrun")  # bytes after the last file
                continue
            take = min(self.left, len(data) - off)
            chunk = data[off:off + take]
            self.file.write(chunk)
            self.hash.update(chunk)
            self.left -= take
            off += take
            if self.left == 0:
                self._close_file()

    def _head_part_done(self):
        if self.need == I.HEAD_LEN:
            self.need = I.head_length(self.head)
            return
        st = self.store
        m = I.check_head(self.head, st.keys, st.node, st.board, st.arch)
        total = len(self.head)
        for f in m["files"]:
            total += f[1]
        if total != self.size:
            raise I.ImageError("bad_size")
        self.manifest = m
        # The header waits on flash, not in RAM, under a name boot ignores;
        # finish() renames it into place last.
        st.ensure_dir(self.top[:-1])
        with st.fs.open(self.top + HDR_TMP, "wb") as f:
            f.write(self.head)
        self.head = None
        self._next_file()

    def _next_file(self):
        # Opens the next file; empty files are written whole at once.
        files = self.manifest["files"]
        while self.index + 1 < len(files):
            self.index += 1
            path = self.top + files[self.index][0]
            folder = path.rpartition("/")[0]
            self.store.ensure_dir(folder)
            self.file = self.store.fs.open(path, "wb")
            self.hash = hashlib.sha256()
            self.left = files[self.index][1]
            if self.left:
                return
            self._close_file()
        self.file = None

    def _close_file(self):
        self.file.close()
        self.file = None
        if not ct_equal(self.hash.digest(), bytes.fromhex(self.manifest["files"][self.index][2]), 32):
            raise I.ImageError("bad_file")

    def finish(self):
        if self.manifest is None or self.got != self.size or self.file is not None:
            raise I.ImageError("incomplete")
        if self.index + 1 < len(self.manifest["files"]):
            self._next_file()  # trailing empty files
        self.store.fs.rename(self.top + HDR_TMP, self.top + HDR)

    def abort(self):
        if self.file is not None:
            self.file.close()
            self.file = None


class Updater:
    # running: the slot this agent was started from (None: frozen), and its
    # version string; probation_ms bounds a trial.
    def __init__(self, store, running, version, probation_ms=PROBATION_MS):
        self.store = store
        self.running = running
        self.version = version
        self.probation_ms = probation_ms
        self.erased = None
        self.download = None
        self.downloaded = None
        self.checked = None
        self.rejected = {}
        self.on_trial = running is not None and store.record["trial"] == running
        self._since = None  # the first poll: when probation started

    def floor(self):
        return max(self.store.record["floor"], I.version_counter(self.version) or 0)

    def _refuse(self, reason):
        self.rejected[reason] = self.rejected.get(reason, 0) + 1
        raise I.ImageError(reason)

    def target(self):
        # The slot an update may write: never the running one, never while a
        # trial waits for its verdict.
        if self.on_trial or self.store.record["trial"] is not None:
            self._refuse("busy")
        for slot in ("a", "b"):
            if slot != self.running:
                return slot

    def erase(self):
        self.cancel()
        slot = self.target()
        self.store.erase(slot)
        self.erased = slot

    def start(self, size):
        if self.download is not None:
            self._refuse("busy")
        if self.erased is None:
            self._refuse("not_erased")
        if not I.HEAD_LEN < size <= I.MAX_IMAGE + I.HEAD_LEN + I.MAX_MANIFEST + I.TAG_LEN:
            self._refuse("too_large")
        self.download = _Download(self.store, self.erased, size)
        self.erased = None  # a failed download needs a fresh erase

    def write(self, data):
        try:
            self.download.write(data)
        except I.ImageError as e:
            self.cancel()
            self._refuse(e.args[0])

    def finish(self):
        d = self.download
        try:
            d.finish()
        except I.ImageError as e:
            self.cancel()
            self._refuse(e.args[0])
        self.download = None
        self.downloaded = d.top[len(ROOT) + 1:-1]

    def check(self):
        slot = self.downloaded
        if slot is None:
            self._refuse("nothing_downloaded")
        try:
            m = self.store.verify(slot)
        except I.ImageError as e:
            self.downloaded = None
            self._refuse(e.args[0])
        if I.version_counter(m["version"]) <= self.floor():
            self._refuse("downgrade")
        self.checked = slot

    def activate(self):
        if self.checked is None:
            self._refuse("not_checked")
        self.store.activate(self.checked)
        self.checked = self.downloaded = None

    def cancel(self):
        if self.download is not None:
            self.download.abort()
        self.download = None

    def poll(self, now, normal):
        if not self.on_trial:
            return False
        if normal:
            self.store.confirm(I.version_counter(self.version))
            self.on_trial = False
            return False
        if self._since is None:
            self._since = now
        if now - self._since >= self.probation_ms:
            self.store.rollback()
            self.on_trial = False
            return True
        return False
