# What the SecOC observer (host_tools.secoc_observer) reads: the node
# configuration (docs/rekey-protocol.md), the key file and the DBC files.
# Every mistake in them is a UserError naming the file, never a key.
import json
import os

from host_tools.errors import UserError


def read_json(path, what):
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
    "epoch_keys": {"<epoch>": "<K_epoch hex>"}}; both parts optional. A key
    asked for and not found makes it re-read the file if the file changed
    since (a running emulator adds the keys it draws)."""

    def __init__(self, qkd_keys=None, epoch_keys=None, path=None):
        self.qkd_keys = dict(qkd_keys or {})
        self.epoch_keys = dict(epoch_keys or {})
        self.path = path
        self._mtime = _mtime(path) if path else None

    def qkd_key(self, key_id):
        key_id = bytes(key_id)
        if key_id not in self.qkd_keys:
            self.refresh()
        return self.qkd_keys.get(key_id)

    def epoch_key(self, epoch):
        if epoch not in self.epoch_keys:
            self.refresh()
        return self.epoch_keys.get(epoch)

    def refresh(self):
        if self.path is None or _mtime(self.path) == self._mtime:
            return
        try:
            fresh = load_keys(self.path)
        except UserError:
            return  # caught mid-write, or broken: keep what we have, try again later
        self.qkd_keys.update(fresh.qkd_keys)
        self.epoch_keys.update(fresh.epoch_keys)
        self._mtime = fresh._mtime


def _mtime(path):
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def load_keys(path):
    mtime = _mtime(path)  # before reading: a change while we read shows next time
    doc = read_json(path, "key file")
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
    keys.path = path
    keys._mtime = mtime
    return keys


def load_config(path):
    """The node configuration (docs/rekey-protocol.md): returns (pdus, auth_keys,
    grace_ms); pdus are keyagent.agent.Pdu objects in configuration order
    (their PDU indexes), each with the receiver (SecOCRx) an ECU builds;
    the multi-counter ones share one MultiCounter (their .multi)."""
    doc = read_json(path, "configuration")
    return parse_config(doc, path)


def parse_config(doc, where="configuration"):
    from keyagent.agent import DEFAULT_TIMING, Pdu
    from host_tools.observer_epochs import is_isotp_id
    from host_tools.observer_sync import sync_counters
    from keyagent.rekey.ids import ACTIVATE_ID

    if not isinstance(doc, dict) or not isinstance(doc.get("clusters"), list):
        raise UserError("%s: no \"clusters\" list" % where)
    auth = {}
    pdus = []
    multi = None  # the sync state the "freshness": "multi" PDUs share
    try:
        if doc.get("role") == "slave" and "auth_key" in doc:
            auth[int(doc["node"])] = _hex(doc["auth_key"], "%s: auth_key" % where, (16,))
        for s in doc.get("slaves", ()):
            auth[int(s["node"])] = _hex(s["auth_key"], "%s: auth_key of node %s" % (where, s["node"]), (16,))
        for cluster in doc["clusters"]:
            for spec in cluster["pdus"]:
                name = spec.get("name", "#%d" % len(pdus))
                if spec.get("freshness") == "multi" and multi is None:
                    multi = sync_counters(doc, where)
                try:
                    # node None: the observer sends nothing, it receives every PDU
                    pdus.append(Pdu(len(pdus), int(cluster["id"]), spec, None, multi))
                except ValueError as e:
                    raise UserError("%s: PDU %s: %s" % (where, name, e)) from None
        grace_ms = int(doc.get("timing", {}).get("grace_ms", DEFAULT_TIMING["grace_ms"]))
    except (KeyError, TypeError, AttributeError) as e:
        raise UserError("%s: malformed (%s %s)" % (where, type(e).__name__, e)) from None
    except ValueError as e:
        raise UserError("%s: malformed (%s)" % (where, e)) from None
    ids = [p.can_id for p in pdus]
    if len(set(ids)) != len(ids):
        raise UserError("%s: two PDUs share a CAN ID" % where)
    if multi is not None and (multi.can_id in ids or multi.can_id == ACTIVATE_ID or is_isotp_id(multi.can_id)):
        raise UserError("%s: freshness: sync_can_id 0x%X is a PDU's or key management's CAN ID"
                        % (where, multi.can_id))
    return pdus, auth, grace_ms


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


