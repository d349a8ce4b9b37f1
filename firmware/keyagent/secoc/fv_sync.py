# The trip and reset counters of the multi-counter freshness scheme, and the
# authenticated synchronisation message that carries them from the FV master
# to every other ECU. The layout (keyagent.secoc.fv_layout) says what the
# sync PDU carries in which order and what its MAC covers; JASPAR:
#
#   sync PDU  = trip (16) | reset (20) | MAC (28), MSB first, 8 bytes
#   MAC input = Data ID (16) | trip | reset, zero bits to a whole byte
#
# The MAC is AES-CMAC truncated to its first mac bits. The counters are
# their own freshness: a sync message is accepted only if it moves
# (trip, reset) forward, and never below the trip counter persisted.
from keyagent.secoc.bitpack import put_bits, get_bits, put_tag, tag_matches
from keyagent.secoc.fv_layout import FreshnessLayout, JASPAR

SYNC_OK = 0
SYNC_MAC_MISMATCH = 1
SYNC_STALE = 2
SYNC_MALFORMED = 3
SYNC_REASONS = ("ok", "sync_mac_mismatch", "sync_stale", "sync_malformed")


class SyncState:
    def __init__(self, layout=None):
        if layout is None:
            layout = FreshnessLayout(JASPAR)
        self.layout = layout
        self.trip_bits = layout.trip_bits
        self.reset_bits = layout.reset_bits
        self.pdu_len = (layout.sync_bits + 7) >> 3
        self.trip = 0
        self.reset = 0
        self.valid = False
        # The cycle before the current one, for frames sent just before a
        # sync by an ECU that had not seen it yet (a new trip included).
        self.prev_trip = -1
        self.prev_reset = -1
        self._buf = bytearray((((layout.bits(layout.sync_auth) + 7) >> 3 >> 4) + 1) << 4)
        self._tag = bytearray(16)

    # FV master side.

    def start_trip(self, storage):
        # A new trip at every start of the FV master; persisted before use so
        # that a reset can never make the trip counter go back.
        trip = (storage.get("trip", 0) or 0) + 1
        if trip >> self.trip_bits:
            raise ValueError("trip counter exhausted")
        storage.put("trip", trip)
        self._adopt(trip, 0)

    def next_reset(self, storage):
        # The next reset cycle; when the reset counter wraps, a new trip.
        if (self.reset + 1) >> self.reset_bits:
            self.start_trip(storage)
        else:
            self._adopt(self.trip, self.reset + 1)

    def _adopt(self, trip, reset):
        if self.valid:
            self.prev_trip = self.trip
            self.prev_reset = self.reset
        self.trip = trip
        self.reset = reset
        self.valid = True

    def build(self, data_id, cmac, out):
        # Writes the sync PDU into out; returns its length.
        self._authenticate(data_id, cmac, self.trip, self.reset)
        for i in range(self.pdu_len):
            out[i] = 0
        pos = 0
        lay = self.layout
        for kind, w in lay.sync:
            w = lay.width(kind, w)
            if kind == "mac":
                put_tag(out, pos, self._tag, w)
            elif kind != "pad":
                put_bits(out, pos, self.trip if kind == "trip" else self.reset, w)
            pos += w
        return self.pdu_len

    # Receiving side.

    def check(self, data_id, cmac, pdu, n, storage=None):
        # Returns SYNC_OK and adopts the counters, or a rejection reason.
        if n != self.pdu_len:
            return SYNC_MALFORMED
        lay = self.layout
        trip = reset = 0
        pos = mac_pos = 0
        for kind, w in lay.sync:
            w = lay.width(kind, w)
            if kind == "trip":
                trip = get_bits(pdu, pos, w)
            elif kind == "reset":
                reset = get_bits(pdu, pos, w)
            elif kind == "mac":
                mac_pos = pos
            pos += w
        self._authenticate(data_id, cmac, trip, reset)
        if not tag_matches(pdu, mac_pos, self._tag, lay.sync_mac_bits):
            return SYNC_MAC_MISMATCH
        floor = storage.get("trip", 0) if storage is not None else 0
        if trip < (floor or 0) or (self.valid and (trip, reset) <= (self.trip, self.reset)):
            return SYNC_STALE
        self._adopt(trip, reset)
        if storage is not None:
            storage.put("trip", trip)
        return SYNC_OK

    def _authenticate(self, data_id, cmac, trip, reset):
        lay = self.layout
        b = self._buf
        for i in range(len(b)):
            b[i] = 0
        pos = 0
        for kind, w in lay.sync_auth:
            w = lay.width(kind, w)
            if kind != "pad":
                put_bits(b, pos, data_id if kind == "data_id" else trip if kind == "trip" else reset, w)
            pos += w
        cmac.digest_into(b, (pos + 7) >> 3, self._tag)
