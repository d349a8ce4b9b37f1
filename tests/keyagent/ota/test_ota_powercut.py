# Power cut at any moment of an update: before and after every single
# create, write, rename, remove and mkdir of the erase, the download, the
# activation, the trial boot and the confirmation. After each cut the board
# boots a complete, authenticated agent (the old or the new one, never a
# mix), and a second attempt ends with the new version confirmed. Both
# rename models: littlefs (atomic replace) and FAT (unlink, then rename).
from ota_fixture import Rig, make_image
from keyagent.unix.memfs import MemoryFs
from keyagent.ota.slots import SlotStore, ROOT, HDR
from ota_fixture import KEYS, NODE, BOARD, ARCH

OLD = "1.1.0"
NEW = "1.2.0"


class PowerCut(Exception):
    pass


class CutFs(MemoryFs):
    # Counts every cut point (before and after each operation) and loses
    # power at point number cut_at.
    def __init__(self, atomic_rename=True):
        MemoryFs.__init__(self, atomic_rename)
        self.points = 0
        self.cut_at = None

    def _point(self):
        self.points += 1
        if self.cut_at is not None and self.points == self.cut_at:
            raise PowerCut()

    def before(self, op, path):
        self._point()

    def after(self, op, path):
        self._point()

    def clone(self):
        c = CutFs(self.atomic_rename)
        c.points = self.points
        for p, data in self.files.items():
            c.files[p] = bytearray(data)
        c.dirs = set(self.dirs)
        return c


def boot(fs):
    # Power on: the slot boot.py would start, checked the way a test can
    # check it: every file of its manifest whole, and no other file there.
    store = SlotStore(fs, KEYS, NODE, BOARD, ARCH)
    slot, manifest = store.boot()
    if slot is None:
        return None, "1.0.0"
    top = ROOT + "/" + slot + "/"
    listed = set(top + f[0] for f in manifest["files"]) | set([top + HDR])
    present = set(p for p in fs.files if p.startswith(top))
    assert present == listed, (present, listed)
    return slot, manifest["version"]


def update(fs, slot, running, version, block=256):
    # From a booted board: the running agent reaches its normal state (which
    # confirms a trial), then, if it is not `version` yet, the UDS
    # programming sequence, ECUReset, the trial boot and its confirmation.
    Rig(fs=fs, running=slot, version=running).updater.poll(0, True)
    if running != version:
        rig = Rig(fs=fs, running=slot, version=running)
        rig.unlock()
        resp = rig.push(make_image(version), block)
        assert resp is None, resp
        assert rig.ask([0x11, 0x01]) == b"\x51\x01"
        slot, running = boot(fs)
        Rig(fs=fs, running=slot, version=running).updater.poll(0, True)
    return running


def sweep(start, atomic_rename):
    # Every cut point of one update from `start`; returns how many.
    base = CutFs(atomic_rename)
    for v in start:
        update(base, *(boot(base) + (v,)))
    slot, before = boot(base)
    probe = base.clone()
    update(probe, slot, before, NEW)
    total = probe.points - base.points
    for k in range(1, total + 1):
        fs = base.clone()
        fs.cut_at = base.points + k
        try:
            update(fs, slot, before, NEW)
        except PowerCut:
            pass
        fs.cut_at = None
        after_slot, version = boot(fs)
        assert version in (before, NEW), (k, version)
        assert update(fs, after_slot, version, NEW) == NEW, k
        store = SlotStore(fs, KEYS, NODE, BOARD, ARCH)
        assert store.record["trial"] is None and store.record["floor"] == 1002000, (k, store.record)
        assert boot(fs)[1] == NEW
    return total


def check_sweep(start, atomic_rename, what):
    n = sweep(start, atomic_rename)
    print("power-cut points tried: %d (%s)" % (n, what))  # the figure for the report
    assert n > 50


def test_power_cut_sweep_from_a_confirmed_slot_littlefs():
    check_sweep([OLD], True, "littlefs, slot a -> b")


def test_power_cut_sweep_from_a_confirmed_slot_fat():
    check_sweep([OLD], False, "FAT rename, slot a -> b")


def test_power_cut_sweep_from_the_frozen_agent():
    check_sweep([], True, "littlefs, frozen agent -> slot a")


def test_power_cut_sweep_from_slot_b_back_to_a():
    check_sweep([OLD, "1.1.5"], True, "littlefs, slot b -> a")
