# What `qkd-secoc ota build` puts into an image and signs it with: the
# fleet's QKD key from a key file, and the agent's modules as a board (or
# the unix port) runs them (docs/ota.md, "Image format").
import json
import os
import tempfile

from host_tools.errors import UserError


def read_key_file(path, key_id):
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError as e:
        raise UserError("cannot read key file %s: %s" % (path, e.strerror)) from None
    if text.startswith("{"):
        try:
            doc = json.loads(text)
            text, key_id = doc["key"], key_id or doc["key_id"]
        except (ValueError, KeyError, TypeError):
            raise UserError("key file %s: JSON needs \"key\" and \"key_id\"" % path) from None
    try:
        key = bytes.fromhex(text)
    except (ValueError, TypeError):
        raise UserError("key file %s holds no hex key" % path) from None
    if len(key) < 16:
        raise UserError("key file %s: the QKD key must have at least 16 bytes" % path)
    if not key_id:
        raise UserError("--key-id is needed (the key file does not name its key)")
    return key, key_id


def agent_files(board, role, mpy_arch=None):
    # ([(path in the slot, bytes)], arch): the modules a board image freezes,
    # as .mpy for its architecture; for the unix port every keyagent module
    # (it also needs keyagent/unix, which no board freezes), as source
    # unless an architecture is asked for.
    from host_tools.manifest import frozen_files
    from host_tools.mpy_build import FIRMWARE, compile_module, firmware_sources

    if board == "unix":
        agent = os.path.join(FIRMWARE, "keyagent")
        files = [(src, os.path.relpath(src, FIRMWARE).replace(os.sep, "/")) for src in firmware_sources()
                 if src.startswith(agent + os.sep)]
        if mpy_arch is None:
            return [(dest, open(src, "rb").read()) for src, dest in files], "py"
        from keyagent.ota.boot import ARCHES

        if mpy_arch not in ARCHES[1:]:
            raise UserError("--mpy-arch must be one of %s" % ", ".join(ARCHES[1:]))
        march = mpy_arch
    else:
        board_json = os.path.join(os.path.dirname(FIRMWARE), "boards", board, "board.json")
        try:
            with open(board_json) as f:
                march = json.load(f)["mpy_march"]
        except (OSError, ValueError, KeyError):
            raise UserError("unknown board %s (no boards/%s/board.json; or use unix)" % (board, board)) from None
        files = frozen_files(role=role)
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (src, dest) in enumerate(files):
            mpy = os.path.join(tmp, "%d.mpy" % i)
            try:
                compile_module(src, mpy, march)
            except RuntimeError as e:
                raise UserError("mpy-cross -march=%s: %s" % (march, str(e).splitlines()[-1])) from None
            with open(mpy, "rb") as f:
                out.append((dest[:-3] + ".mpy", f.read()))
    return out, march
