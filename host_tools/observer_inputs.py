# What the SecOC observer (host_tools.secoc_observer) reads: the node
# configuration (docs/rekey-protocol.md), the key file and the DBC files.
# Every mistake in them is a UserError naming the file, never a key.
import json

from host_tools.errors import UserError

DEFAULT_GRACE_MS = 500
# Extra freshness candidates a receiver tries after the first (frames lost
# in a row: (attempts + 1) * 2**tx_fv_bits).
RX_ATTEMPTS = 2



def _read_json(path, what):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise UserError("cannot read %s %s: %s" % (what, path, e.strerror)) from None
    except ValueError as e:
        raise UserError("%s %s is not JSON: %s" % (what, path, e)) from None


def _hex(text, what, length=None):
    try:
        value = bytes.fromhex(text)
    except (TypeError, ValueError):
        raise UserError("%s is not hex" % what) from None
    if length is not None and len(value) not in length:
        raise UserError("%s must be %s bytes" % (what, " or ".join(str(n) for n in length)))
    return value


class Keys:
    """The key file: {"qkd_keys": {"<key ID hex>": "<QKD key hex>"},
    "epoch_keys": {"<epoch>": "<K_epoch hex>"}}; both parts optional."""

    def __init__(self, qkd_keys=None, epoch_keys=None):
        self.qkd_keys = dict(qkd_keys or {})
        self.epoch_keys = dict(epoch_keys or {})


def load_keys(path):
    doc = _read_json(path, "key file")
    if not isinstance(doc, dict) or set(doc) - {"qkd_keys", "epoch_keys"}:
        raise UserError("key file %s: expected an object with qkd_keys and/or epoch_keys" % path)
    keys = Keys()
    for key_id, key in (doc.get("qkd_keys") or {}).items():
        kid = _hex(key_id, "key file: key ID %r" % key_id)
        keys.qkd_keys[kid] = _hex(key, "key file: the QKD key of ID %s" % key_id, (16, 32))
    for epoch, key in (doc.get("epoch_keys") or {}).items():
        try:
            e = int(epoch, 0)
        except ValueError:
            raise UserError("key file: epoch %r is not a number" % epoch) from None
        if not 0 <= e <= 0xFFFFFFFF:
            raise UserError("key file: epoch %d is not 32 bits" % e)
        keys.epoch_keys[e] = _hex(key, "key file: the key of epoch %d" % e, (16,))
    return keys


class PduConfig:
    __slots__ = ("index", "name", "can_id", "cluster", "data_id", "length", "profile", "fv_bits",
                 "fd", "sender")


def load_config(path):
    """The node configuration (docs/rekey-protocol.md): returns (pdus, auth_keys,
    grace_ms) with pdus in configuration order (their PDU indexes)."""
    doc = _read_json(path, "configuration")
    return parse_config(doc, path)


def parse_config(doc, where="configuration"):
    if not isinstance(doc, dict) or not isinstance(doc.get("clusters"), list):
        raise UserError("%s: no \"clusters\" list" % where)
    auth = {}
    try:
        if doc.get("role") == "slave" and "auth_key" in doc:
            auth[int(doc["node"])] = _hex(doc["auth_key"], "%s: auth_key" % where, (16,))
        for s in doc.get("slaves", ()):
            auth[int(s["node"])] = _hex(s["auth_key"], "%s: auth_key of node %s" % (where, s["node"]), (16,))
        pdus = []
        for cluster in doc["clusters"]:
            for p in cluster["pdus"]:
                c = PduConfig()
                c.index = len(pdus)
                c.name = str(p["name"])
                c.can_id = int(p["can_id"])
                c.cluster = int(cluster["id"])
                c.data_id = int(p["data_id"])
                c.length = int(p["length"])
                c.profile = int(p["profile"])
                c.fv_bits = p.get("fv_bits")
                c.fd = bool(p.get("fd", False))
                c.sender = p.get("sender")
                pdus.append(c)
        grace_ms = int(doc.get("timing", {}).get("grace_ms", DEFAULT_GRACE_MS))
    except (KeyError, TypeError, ValueError) as e:
        raise UserError("%s: malformed (%s %s)" % (where, type(e).__name__, e)) from None
    ids = [p.can_id for p in pdus]
    if len(set(ids)) != len(ids):
        raise UserError("%s: two PDUs share a CAN ID" % where)
    for p in pdus:
        try:
            make_receiver(p)
        except (KeyError, ValueError) as e:
            raise UserError("%s: PDU %s: %s" % (where, p.name, e)) from None
    return pdus, auth, grace_ms


def make_receiver(pdu):
    """The SecOCRx a receiving ECU builds for a configured PDU (no key yet)."""
    from keyagent.secoc import SecOCRx, layout_for_profile

    layout = layout_for_profile(pdu.profile, pdu.data_id, pdu.length, fv_bits=pdu.fv_bits, fd=pdu.fd)
    return SecOCRx(layout, fresh_freshness(layout))


def fresh_freshness(layout, attempts=RX_ATTEMPTS):
    from keyagent.freshness import CounterFreshness

    if not layout.fv_bits:
        return None
    return CounterFreshness(layout.fv_bits, layout.tx_fv_bits, attempts)


def load_dbcs(paths):
    """cantools databases; a file that does not parse is a user error."""
    import cantools

    dbs = []
    for path in paths or ():
        try:
            dbs.append(cantools.database.load_file(path, strict=True))
        except OSError as e:
            raise UserError("cannot read DBC %s: %s" % (path, e.strerror)) from None
        except Exception as e:  # cantools raises several parser exception types
            first = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UserError("DBC %s does not parse: %s" % (path, first)) from None
    return dbs


