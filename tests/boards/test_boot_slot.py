# firmware/boot.py under the real MicroPython unix port, in a folder that
# plays a board's /flash: with a verified slot it puts the slot first and
# every keyagent module then comes from there (the agent in firmware/ plays
# the frozen one); with a broken slot, or none, the frozen agent runs.
import json
import os
import shutil
import subprocess

from keyagent.ota import image as I
from mpy_interpreter import ROOT, micropython

NODE = 2
KEY_ID = "k"
QKD_KEY = bytes(range(40, 72))
PROBE = ("exec(open('boot.py').read())\n"
         "import keyagent.agent, keyagent.crypto.cmac\n"
         "print('from', keyagent.agent.__file__, keyagent.crypto.cmac.__file__)\n")


def agent_files():
    top = os.path.join(ROOT, "firmware")
    out = []
    for folder, dirs, names in os.walk(os.path.join(top, "keyagent")):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for n in sorted(names):
            if n.endswith(".py"):
                path = os.path.join(folder, n)
                out.append((os.path.relpath(path, top), open(path, "rb").read()))
    return out


def flash(tmp_path, slot_files=None, version="1.1.0"):
    board = json.load(open(os.path.join(ROOT, "boards", "NUCLEO_G474RE", "board.json")))
    (tmp_path / "board.json").write_text(json.dumps(board))
    (tmp_path / "agent.json").write_text(json.dumps(
        {"node": NODE, "role": "slave", "ota_keys": {KEY_ID: I.update_key(QKD_KEY, NODE, KEY_ID).hex()}}))
    shutil.copy(os.path.join(ROOT, "firmware", "boot.py"), tmp_path / "boot.py")
    if slot_files is not None:
        img = I.build(slot_files, version, board["board"], "py", NODE, KEY_ID, I.update_key(QKD_KEY, NODE, KEY_ID))
        head = img[:I.head_length(img)]
        off = len(head)
        for path, data in slot_files:
            target = tmp_path / "ota" / "a" / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(img[off:off + len(data)])
            off += len(data)
        (tmp_path / "ota" / "a" / "image.hdr").write_bytes(head)
        (tmp_path / "ota" / "state.json").write_text(json.dumps({"active": "a", "floor": 1001000, "trial": None,
                                                                  "boots": 0}))


def boot(tmp_path):
    env = dict(os.environ, MICROPYPATH=os.path.join(ROOT, "firmware"))  # the "frozen" agent
    proc = subprocess.run([micropython(), "-c", PROBE], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout.splitlines()


def test_boot_starts_the_verified_slot(tmp_path):
    flash(tmp_path, agent_files())
    lines = boot(tmp_path)
    assert lines[0] == "keyagent: slot a version 1.1.0"
    assert lines[1] == "from ota/a/keyagent/agent.py ota/a/keyagent/crypto/cmac.py"


def test_a_broken_slot_leaves_the_frozen_agent(tmp_path):
    flash(tmp_path, agent_files())
    cmac = tmp_path / "ota" / "a" / "keyagent" / "crypto" / "cmac.py"
    cmac.write_bytes(cmac.read_bytes().replace(b"0x87", b"0x88"))  # one constant changed on flash
    lines = boot(tmp_path)
    frozen = os.path.join(ROOT, "firmware", "keyagent")
    assert lines == ["from %s/agent.py %s/crypto/cmac.py" % (frozen, frozen)]


def test_no_update_no_slot(tmp_path):
    flash(tmp_path)
    frozen = os.path.join(ROOT, "firmware", "keyagent")
    assert boot(tmp_path) == ["from %s/agent.py %s/crypto/cmac.py" % (frozen, frozen)]
