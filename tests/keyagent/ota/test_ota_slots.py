# The image format's refusals, boot selection, probation and rollback (both
# runtimes). The power-cut sweep is test_ota_powercut.py.
from fwtest import raises
from ota_fixture import Rig, make_image, files, KEYS, NODE, BOARD, ARCH, QKD_KEY, KEY_ID
from keyagent.ota import image as I
from keyagent.unix.memfs import MemoryFs
from keyagent.ota.slots import SlotStore, MAX_TRIAL_BOOTS


def store(fs):
    return SlotStore(fs, KEYS, NODE, BOARD, ARCH)


def installed(versions):
    # A MemoryFs after updates to each version in turn, each confirmed.
    fs = MemoryFs()
    for v in versions:
        slot, m = store(fs).boot()
        rig = Rig(fs=fs, running=slot, version=m["version"] if m else "1.0.0")
        rig.unlock()
        assert rig.push(make_image(v)) is None
        slot, m = store(fs).boot()
        Rig(fs=fs, running=slot, version=m["version"]).updater.poll(0, True)
    return fs


def reason(fn, *args):
    try:
        fn(*args)
    except I.ImageError as e:
        return e.args[0]
    return None


def test_version_counter():
    assert I.version_counter("1.2.3") == 1002003
    assert I.version_counter("2") == 2000000
    assert I.version_counter("1.10") == 1010000 > I.version_counter("1.9.999")
    for bad in ("", "1..2", "1.2.3.4", "a.b", "1.2.1000", "-1", None, 3):
        assert I.version_counter(bad) is None


def test_update_key_is_per_node_and_per_key_id():
    k = I.update_key(QKD_KEY, NODE, KEY_ID)
    assert len(k) == 16
    assert k != I.update_key(QKD_KEY, NODE + 1, KEY_ID)
    assert k != I.update_key(QKD_KEY, NODE, KEY_ID + "x")
    assert k != I.update_key(bytes(32), NODE, KEY_ID)


def test_malformed_heads_are_refused_with_a_reason():
    img = make_image()
    head_len = I.head_length(img)
    head = img[:head_len]
    assert I.check_head(head, KEYS, NODE, BOARD, ARCH)["version"] == "1.1.0"
    assert reason(I.check_head, b"XOTA" + head[4:], KEYS, NODE, BOARD, ARCH) == "bad_magic"
    assert reason(I.check_head, head[:-1], KEYS, NODE, BOARD, ARCH) == "bad_manifest"
    assert reason(I.check_head, head, {}, NODE, BOARD, ARCH) == "bad_tag"
    assert reason(I.check_head, head, KEYS, NODE, "PYBV11", ARCH) == "wrong_board"
    assert reason(I.check_head, head, KEYS, NODE, BOARD, "x64") == "wrong_board"
    for body in (b"[]", b"{", b'{"version": "1.0"}', b"\xff\xfe"):
        fake = I.header(body) + body + bytes(16)
        assert reason(I.check_head, fake, KEYS, NODE, BOARD, ARCH) == "bad_manifest"
    for path in ("../x.mpy", "/abs.mpy", "a//b.mpy", "image.hdr"):
        assert raises(ValueError, I.build, [(path, b"x")], "1.0.0", BOARD, ARCH, NODE, KEY_ID, bytes(16))
    assert raises(ValueError, I.build, files("1.0"), "1.x", BOARD, ARCH, NODE, KEY_ID, bytes(16))


def test_random_heads_raise_only_image_errors():
    seed = 12345
    for n in range(300):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        length = 7 + seed % 80
        data = bytearray(I.header(b"x" * (length - 7 - 16)))
        for i in range(length - 7):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            data.append(seed >> 16 & 0xFF)
        if n % 3 == 0:
            data[7:9] = b'{"'
        assert reason(I.check_head, bytes(data), KEYS, NODE, BOARD, ARCH) is not None


def test_a_trial_that_never_confirms_rolls_back_after_its_boots():
    fs = installed(["1.1.0"])
    rig = Rig(fs=fs, running="a", version="1.1.0")
    rig.unlock()
    assert rig.push(make_image("1.2.0")) is None
    for _ in range(MAX_TRIAL_BOOTS):
        assert store(fs).boot()[0] == "b"  # resets before it reached its normal state
    slot, m = store(fs).boot()
    assert (slot, m["version"]) == ("a", "1.1.0")
    assert store(fs).record == {"active": "a", "floor": 1001000, "trial": None, "boots": 0}
    # The failed version may be tried again: it never raised the floor.
    rig = Rig(fs=fs, running="a", version="1.1.0")
    rig.unlock()
    assert rig.push(make_image("1.2.0")) is None


def test_probation_runs_out_then_rolls_back_and_resets():
    fs = installed(["1.1.0"])
    rig = Rig(fs=fs, running="a", version="1.1.0")
    rig.unlock()
    rig.push(make_image("1.2.0"))
    slot, m = store(fs).boot()
    u = Rig(fs=fs, running=slot, version=m["version"]).updater
    assert u.on_trial
    assert u.poll(1000, False) is False
    assert u.poll(60999, False) is False
    assert u.poll(61000, False) is True  # the board resets
    assert store(fs).boot()[0] == "a"


def test_a_corrupted_slot_on_flash_is_not_started():
    fs = installed(["1.1.0", "1.2.0"])
    assert store(fs).boot()[0] == "b"
    fs.files["ota/b/keyagent/mod1.mpy"][3] ^= 1
    assert store(fs).boot() == (None, None)  # the confirmed slot is broken: the frozen agent
    fs = installed(["1.1.0"])
    rig = Rig(fs=fs, running="a", version="1.1.0")
    rig.unlock()
    rig.push(make_image("1.2.0"))
    del fs.files["ota/b/keyagent/mod2.mpy"]
    slot, m = store(fs).boot()
    assert (slot, m["version"]) == ("a", "1.1.0")  # a broken trial rolls back at once
    assert store(fs).record["trial"] is None


def test_a_check_reads_the_slot_back_from_flash():
    fs = installed([])
    rig = Rig(fs=fs)
    rig.unlock()
    img = make_image("1.1.0")
    for req in ([0x31, 1, 0xFF, 0], [0x34, 0, 0x44, 0, 0, 0, 0] + list(len(img).to_bytes(4, "big")),
                bytes([0x36, 1]) + img[:1024], bytes([0x36, 2]) + img[1024:2048],
                bytes([0x36, 3]) + img[2048:], [0x37]):
        assert rig.ask(req)[0] != 0x7F
    fs.files["ota/a/keyagent/__init__.mpy"][0] ^= 0xFF  # flash lost a bit after the write
    assert rig.ask([0x31, 1, 0x02, 0x02]) == b"\x7f\x31\x72"
    assert rig.ask([0x31, 1, 0xFF, 0x01]) == b"\x7f\x31\x24"
