# The OTA image (docs/ota.md, "Image format"): a header, a JSON manifest, a
# 16-byte tag, then the files back to back in manifest order.
#
#   "QOTA" | format 1 (1 byte) | manifest length (2 bytes BE) | manifest | tag
#
#   manifest = {"version": "1.2.3", "board": "...", "arch": "armv7emsp"|"py",
#               "node": 3, "key_id": "...", "files": [[path, length, sha256 hex], ...]}
#   tag = AES-CMAC(K_update, header || manifest)
#   K_update = KDF(QKD key, "qkd-secoc update key", [node]_16 || key ID)
#
# The tag binds the files through their SHA-256 in the manifest, and the
# ECU through the key: a tag made for one node does not verify on another.
import json

from keyagent.crypto.cmac import Cmac
from keyagent.crypto.kdf import derive

MAGIC = b"QOTA"
FORMAT = 1
HEAD_LEN = 7
TAG_LEN = 16
MAX_MANIFEST = 8192  # 96 files of about 100 bytes each, parsed once per download
MAX_FILES = 96
MAX_IMAGE = 512 * 1024
UPDATE_LABEL = b"qkd-secoc update key"


class ImageError(ValueError):
    """An image this ECU must refuse; the message is the reason name."""


def update_context(node, key_id):
    kid = key_id.encode()
    ctx = bytearray(2 + len(kid))
    ctx[0] = (node >> 8) & 0xFF
    ctx[1] = node & 0xFF
    ctx[2:] = kid
    return bytes(ctx)


def update_key(qkd_key, node, key_id):
    # The 16-byte key that tags images for one node, from the QKD key that
    # the fleet backend and the vehicle share (first 16 bytes: AES-128 PRF).
    return derive(bytes(qkd_key[0:16]), UPDATE_LABEL, update_context(node, key_id), 16)


def version_counter(text):
    # "a.b.c" (each 0..999) as one integer that only grows with the version.
    parts = text.split(".") if isinstance(text, str) else ()
    if not 1 <= len(parts) <= 3:
        return None
    n = 0
    for p in parts:
        if not p or not p.isdigit() or len(p) > 3:
            return None
        n = n * 1000 + int(p)
    for _ in range(3 - len(parts)):
        n *= 1000
    return n


def header(manifest_bytes):
    n = len(manifest_bytes)
    return MAGIC + bytes((FORMAT, n >> 8, n & 0xFF))


def head_length(head):
    # Bytes of header + manifest + tag, from the first HEAD_LEN bytes.
    if bytes(head[0:4]) != MAGIC or head[4] != FORMAT:
        raise ImageError("bad_magic")
    n = (head[5] << 8) | head[6]
    if not 2 <= n <= MAX_MANIFEST:
        raise ImageError("bad_manifest")
    return HEAD_LEN + n + TAG_LEN


def parse_manifest(data):
    # The manifest dict, checked field by field; ImageError otherwise.
    try:
        m = json.loads(bytes(data).decode())
    except (ValueError, UnicodeError):
        raise ImageError("bad_manifest")
    if not isinstance(m, dict):
        raise ImageError("bad_manifest")
    for name, kind in (("version", str), ("board", str), ("arch", str), ("node", int),
                       ("key_id", str), ("files", list)):
        if not isinstance(m.get(name), kind):
            raise ImageError("bad_manifest")
    if version_counter(m["version"]) is None or not 0 < len(m["files"]) <= MAX_FILES:
        raise ImageError("bad_manifest")
    total = 0
    for f in m["files"]:
        if (not isinstance(f, list) or len(f) != 3 or not isinstance(f[0], str)
                or not isinstance(f[1], int) or not isinstance(f[2], str) or len(f[2]) != 64):
            raise ImageError("bad_manifest")
        if not safe_path(f[0]) or f[1] < 0:
            raise ImageError("bad_manifest")
        try:
            bytes.fromhex(f[2])
        except ValueError:
            raise ImageError("bad_manifest")
        total += f[1]
    if total > MAX_IMAGE:
        raise ImageError("too_large")
    return m


def safe_path(path):
    # A relative path inside the slot: no "..", no absolute path, no empty
    # part, nothing the slot's own header files are called.
    if not path or path[0] == "/" or len(path) > 96:
        return False
    for part in path.split("/"):
        if part in ("", ".", "..") or part.startswith("image.hdr"):
            return False
    return True


def check_head(head, keys, node, board, arch):
    # Parses and authenticates header + manifest + tag; returns the manifest.
    # keys: {key ID: K_update} of this node. Raises ImageError(reason).
    end = head_length(head)
    if len(head) != end:
        raise ImageError("bad_manifest")
    m = parse_manifest(head[HEAD_LEN:end - TAG_LEN])
    key = keys.get(m["key_id"])
    if key is None or not Cmac(key).verify(bytes(head[0:end - TAG_LEN]), bytes(head[end - TAG_LEN:end])):
        raise ImageError("bad_tag")
    if m["node"] != node:
        raise ImageError("wrong_ecu")
    if m["board"] != board or m["arch"] not in (arch, "py"):  # source runs anywhere
        raise ImageError("wrong_board")
    return m


def build(files, version, board, arch, node, key_id, k_update):
    # The image bytes for [(path, data), ...]: what `qkd-secoc ota build` and
    # the emulator's fleet backend make. Not needed on a board.
    import hashlib

    listed = [[p, len(d), hashlib.sha256(d).digest().hex()] for p, d in files]
    m = {"version": version, "board": board, "arch": arch, "node": node, "key_id": key_id,
         "files": listed}
    body = json.dumps(m).encode()
    if len(body) > MAX_MANIFEST:
        raise ImageError("bad_manifest")
    signed = header(body) + body
    parse_manifest(body)  # the same checks the ECU makes
    return signed + Cmac(k_update).digest(signed) + b"".join(d for _, d in files)
