# Freshness layouts as data (docs/freshness.md): how a maker arranges the
# multi-counter freshness value, which of its bits go on the wire, and what
# the synchronisation message carries and authenticates. One line of text,
# the same in a node configuration, a DBC attribute and the calculator:
#
#   fv=trip:16,reset:20,msg:26,flag:2;wire=msg:2,flag:2;
#   sync=trip:16,reset:20,mac:28;sync_auth=data_id,trip,reset
#
# fv: the complete freshness value, MSB first (trip counter, reset counter,
#   message counter, reset flag = the reset counter's low bits, pad = zeros).
# wire: the truncated freshness value, MSB first: the low bits of each field.
# sync: the sync PDU, MSB first, zero bits up to a whole byte (trip, reset,
#   pad, mac = the truncated CMAC).
# sync_auth: the CMAC input, MSB first, zero bits up to a whole byte
#   (data_id = the sync's 16-bit Data ID, trip, reset, pad).

JASPAR = ("fv=trip:16,reset:20,msg:26,flag:2;wire=msg:2,flag:2;"
          "sync=trip:16,reset:20,mac:28;sync_auth=data_id,trip,reset")
NAMED = {
    "jaspar": JASPAR,
    # No reset flag: a missed sync is found by trying the next reset cycle.
    "flagless": ("fv=trip:24,reset:16,pad:4,msg:20;wire=msg:8;"
                 "sync=reset:16,trip:24,mac:24;sync_auth=trip,reset"),
    # The flag above the message counter and first on the wire.
    "flag-first": ("fv=trip:8,reset:22,flag:1,pad:1,msg:32;wire=flag:1,msg:7;"
                   "sync=trip:8,pad:2,reset:22,mac:32;sync_auth=data_id,pad:2,trip,reset"),
}
_KINDS = {"fv": ("trip", "reset", "msg", "flag", "pad"), "wire": ("msg", "flag"),
          "sync": ("trip", "reset", "mac", "pad"), "sync_auth": ("data_id", "trip", "reset", "pad")}


def _fields(text, kinds):
    out = []
    for item in text.split(","):
        kind, _, width = item.strip().partition(":")
        if kind not in kinds:
            raise ValueError("freshness layout: unknown field %r" % kind)
        try:
            w = int(width) if width else -1
        except ValueError:
            raise ValueError("freshness layout: bad width %r" % width) from None
        out.append((kind, w))
    return out


def _once(fields, kind, where):
    n = [f[0] for f in fields].count(kind)
    if n > 1 or (n == 0 and kind != "flag"):
        raise ValueError("freshness layout: %s needs exactly one %s" % (where, kind))


class FreshnessLayout:
    # Bad text is the configuration's mistake: ValueError with the reason.
    def __init__(self, text):
        text = NAMED.get(text.strip(), text)
        parts = {}
        for part in text.replace(" ", "").replace("\n", "").split(";"):
            if part:
                name, _, value = part.partition("=")
                if name not in _KINDS or name in parts:
                    raise ValueError("freshness layout: unknown or repeated part %r" % name)
                parts[name] = _fields(value, _KINDS[name])
        if len(parts) != 4:
            raise ValueError("freshness layout needs fv=, wire=, sync= and sync_auth=")
        self.text = text
        fv = self.fv = parts["fv"]
        self.widths = {}
        for kind, w in fv:
            if w < 1:
                raise ValueError("freshness layout: every fv field needs a width")
            if kind != "pad":
                _once(fv, kind, "fv")
                self.widths[kind] = w
        kinds = [f[0] for f in fv]
        # Whole values compare as integers: trip above reset above msg, and
        # the flag (part of the reset counter) below the reset counter.
        if not kinds.index("trip") < kinds.index("reset") < kinds.index("msg") \
                or ("flag" in kinds and kinds.index("flag") < kinds.index("reset")):
            raise ValueError("freshness layout: fv order must be trip, reset, msg (flag after reset)")
        self.fv_bits = sum(f[1] for f in fv)
        if self.fv_bits > 64:
            raise ValueError("freshness layout: fv is longer than 64 bits")
        self.trip_bits = self.widths["trip"]
        self.reset_bits = self.widths["reset"]
        self.msg_bits = self.widths["msg"]
        self.flag_bits = self.widths.get("flag", 0)
        # Where each field sits (its lowest bit), so that the per-frame
        # work is shifts and masks.
        shift = {}
        pos = self.fv_bits
        for kind, w in fv:
            pos -= w
            shift[kind] = pos
        self._trip_at = shift["trip"]
        self._reset_at = shift["reset"]
        self._msg_at = shift["msg"]
        self._flag_at = shift.get("flag", -1)
        self.wire = parts["wire"]
        _once(self.wire, "msg", "wire")
        _once(self.wire, "flag", "wire")
        for kind, w in self.wire:
            if kind == "flag" and w != self.flag_bits:
                raise ValueError("freshness layout: the wire carries the whole reset flag")
            if kind == "msg" and not 1 <= w <= self.msg_bits:
                raise ValueError("freshness layout: wire msg bits must be 1..msg bits")
        self.tx_bits = sum(f[1] for f in self.wire)
        self.sync = parts["sync"]
        for kind in ("trip", "reset", "mac"):
            _once(self.sync, kind, "sync")
        self.sync_auth = parts["sync_auth"]
        for kind, w in self.sync + self.sync_auth:
            if kind in ("trip", "reset") and w not in (-1, self.widths[kind]):
                raise ValueError("freshness layout: sync %s width differs from fv" % kind)
            if kind == "mac":
                self.sync_mac_bits = w
            if kind in ("pad", "mac") and w < 1:
                raise ValueError("freshness layout: %s needs a width" % kind)
        if not 1 <= self.sync_mac_bits <= 128:
            raise ValueError("freshness layout: sync MAC bits must be 1..128")
        self.sync_bits = self.bits(self.sync)
        if self.sync_bits > 64:
            raise ValueError("freshness layout: the sync PDU must fit a classic CAN frame")

    def width(self, kind, w):
        if kind == "data_id":
            return 16
        return w if w >= 0 else self.widths[kind]

    def bits(self, fields):
        return sum(self.width(k, w) for k, w in fields)

    def for_tx_bits(self, tx_bits):
        # This layout for a PDU whose truncated FV has tx_bits: the wire's
        # message counter takes what the other wire fields leave.
        if tx_bits == self.tx_bits:
            return self
        other = self.tx_bits - [w for k, w in self.wire if k == "msg"][0]
        if not 1 <= tx_bits - other <= self.msg_bits:
            raise ValueError("freshness layout: %d truncated FV bits do not fit its wire" % tx_bits)
        wire = ",".join("%s:%d" % (k, tx_bits - other if k == "msg" else w) for k, w in self.wire)
        parts = [p for p in self.text.replace(" ", "").split(";") if p and not p.startswith("wire=")]
        return FreshnessLayout(";".join(parts + ["wire=" + wire]))

    # Complete values.

    def compose(self, trip, reset, msg):
        fv = ((trip & ((1 << self.trip_bits) - 1)) << self._trip_at) \
            | ((reset & ((1 << self.reset_bits) - 1)) << self._reset_at) \
            | ((msg & ((1 << self.msg_bits) - 1)) << self._msg_at)
        if self._flag_at >= 0:
            fv |= (reset & ((1 << self.flag_bits) - 1)) << self._flag_at
        return fv

    def split(self, fv):
        # (trip, reset, msg) of a complete value.
        return ((fv >> self._trip_at) & ((1 << self.trip_bits) - 1),
                (fv >> self._reset_at) & ((1 << self.reset_bits) - 1),
                (fv >> self._msg_at) & ((1 << self.msg_bits) - 1))

    def truncated(self, fv):
        trip, reset, msg = self.split(fv)
        t = 0
        for kind, w in self.wire:
            t = (t << w) | ((msg if kind == "msg" else reset) & ((1 << w) - 1))
        return t

    def split_wire(self, trunc):
        # (message counter low bits, their count, reset flag or -1).
        msg = bits = 0
        flag = -1
        pos = self.tx_bits
        for kind, w in self.wire:
            pos -= w
            v = (trunc >> pos) & ((1 << w) - 1)
            if kind == "msg":
                msg, bits = v, w
            else:
                flag = v
        return msg, bits, flag

    def wire_is_low_bits(self):
        # True when the truncated FV is simply the value's low bits, the
        # AUTOSAR default that the per-frame code writes by itself.
        n = len(self.wire)
        tail = self.fv[-n:]
        for i in range(n):
            if tail[i][0] != self.wire[i][0] or (i and tail[i][1] != self.wire[i][1]):
                return False
        return True
