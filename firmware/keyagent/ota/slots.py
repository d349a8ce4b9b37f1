# The A/B slots on flash and the small "which slot" record (docs/ota.md,
# "Slots and boot"):
#
#   ota/a/..., ota/b/...   one agent image each: its files, then image.hdr
#                          (header + manifest + tag), renamed into place last
#   ota/state.json         {"active": null|"a"|"b", "floor": n,
#                           "trial": null|"a"|"b", "boots": n}
#
# The record is replaced by writing ota/state.tmp and renaming it over
# ota/state.json: one atomic step on littlefs. On FAT the rename is an
# unlink plus a rename, so a reader that finds no state.json takes a whole
# state.tmp. "active" is the confirmed slot (null: the agent frozen into the
# firmware), "trial" a new slot on probation, "floor" the version counter
# below which nothing installs (anti-rollback).
import hashlib
import json

from keyagent.crypto.bufops import ct_equal
from keyagent.ota import image as I

SLOTS = ("a", "b")
ROOT = "ota"
RECORD = "ota/state.json"
TMP = "ota/state.tmp"
HDR = "image.hdr"
HDR_TMP = "image.hdr.tmp"  # the header while the files are written
MAX_TRIAL_BOOTS = 3  # boots of a trial slot that never confirm: then roll back
_CHUNK = 512


def ota_keys(config):
    # {key ID: K_update} from a node configuration's "ota_keys" (hex).
    keys = {}
    for key_id, value in config.get("ota_keys", {}).items():
        keys[key_id] = bytes.fromhex(value)
    return keys


def empty_record():
    return {"active": None, "floor": 0, "trial": None, "boots": 0}


def _valid(r):
    return (isinstance(r, dict) and r.get("active") in (None, "a", "b") and r.get("trial") in (None, "a", "b")
            and isinstance(r.get("floor"), int) and isinstance(r.get("boots"), int))


class SlotStore:
    # keys: {key ID: K_update} of this node; board, arch: what it runs.
    def __init__(self, fs, keys, node, board, arch):
        self.fs = fs
        self.keys = keys
        self.node = node
        self.board = board
        self.arch = arch
        self.record = self._load()

    def _load(self):
        for path in (RECORD, TMP):
            try:
                with self.fs.open(path, "rb") as f:
                    r = json.loads(f.read().decode())
            except (OSError, ValueError, UnicodeError):
                continue
            if _valid(r):
                return r
        return empty_record()

    def save(self, **changes):
        r = dict(self.record)
        r.update(changes)
        if not self.fs.isdir(ROOT):
            self.fs.mkdir(ROOT)
        with self.fs.open(TMP, "wb") as f:
            f.write(json.dumps(r).encode())
        self.fs.rename(TMP, RECORD)
        self.record = r

    # Slots.

    def ensure_dir(self, path):
        # Creates every missing folder of path (a folder path).
        done = ""
        for part in path.split("/"):
            done = done + "/" + part if done else part
            if not self.fs.isdir(done):
                self.fs.mkdir(done)

    def erase(self, slot):
        # The header goes first: from then on the slot is plainly invalid.
        top = ROOT + "/" + slot
        if self.fs.exists(top + "/" + HDR):
            self.fs.remove(top + "/" + HDR)
        if self.fs.isdir(top):
            self._remove_files(top)

    def _remove_files(self, folder):
        for name in self.fs.listdir(folder):
            p = folder + "/" + name
            if self.fs.isdir(p):
                self._remove_files(p)
            else:
                self.fs.remove(p)

    def verify(self, slot):
        # The slot's manifest if its header authenticates and every file
        # has its listed length and SHA-256; ImageError otherwise.
        top = ROOT + "/" + slot + "/"
        try:
            with self.fs.open(top + HDR, "rb") as f:
                head = f.read(I.HEAD_LEN + I.MAX_MANIFEST + I.TAG_LEN + 1)
        except OSError:
            raise I.ImageError("no_image")
        m = I.check_head(head, self.keys, self.node, self.board, self.arch)
        for path, length, digest in m["files"]:
            if not file_matches(self.fs, top + path, length, digest):
                raise I.ImageError("bad_file")
        return m

    # Boot and probation.

    def boot(self):
        # The slot to run now (None: the frozen agent) and its manifest;
        # counts a trial boot, rolls back a trial that booted too often or
        # no longer verifies.
        r = self.record
        if r["trial"] is not None:
            if r["boots"] < MAX_TRIAL_BOOTS:
                self.save(boots=r["boots"] + 1)
                try:
                    return r["trial"], self.verify(r["trial"])
                except I.ImageError:
                    pass
            self.rollback()
        if self.record["active"] is not None:
            try:
                return self.record["active"], self.verify(self.record["active"])
            except I.ImageError:
                pass
        return None, None

    def activate(self, slot):
        self.save(trial=slot, boots=0)

    def confirm(self, counter):
        # The trial slot reached its normal state: it becomes the active one.
        if self.record["trial"] is not None:
            self.save(active=self.record["trial"], trial=None, boots=0,
                      floor=max(counter, self.record["floor"]))

    def rollback(self):
        self.save(trial=None, boots=0)


def running_slot(module_file):
    # The slot a module was imported from ("ota/b/keyagent/agent.mpy": "b"),
    # None for a frozen or source-tree agent.
    parts = module_file.replace("\\", "/").split("/")
    for i in range(len(parts) - 1):
        if parts[i] == ROOT and parts[i + 1] in SLOTS:
            return parts[i + 1]
    return None


def slot_version(fs, slot):
    # The version in a slot's manifest, read without checking (boot did).
    with fs.open(ROOT + "/" + slot + "/" + HDR, "rb") as f:
        head = f.read(I.HEAD_LEN + I.MAX_MANIFEST + I.TAG_LEN)
    return I.parse_manifest(head[I.HEAD_LEN:I.head_length(head) - I.TAG_LEN])["version"]


def file_matches(fs, path, length, digest_hex):
    h = hashlib.sha256()
    n = 0
    try:
        with fs.open(path, "rb") as f:
            while True:
                chunk = f.read(_CHUNK)
                if not chunk:
                    break
                n += len(chunk)
                h.update(chunk)
    except OSError:
        return False
    return n == length and ct_equal(h.digest(), bytes.fromhex(digest_hex), 32)
