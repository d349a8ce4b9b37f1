# The trip and reset counters of the multi-counter freshness scheme, and the
# authenticated synchronisation message that carries them from the FV master
# to every other ECU.
#
# Sync PDU: trip counter (trip_bits) | reset counter (reset_bits) | MAC
# truncated to mac_bits, packed MSB first and zero-padded to whole bytes.
# The MAC is AES-CMAC over Data ID (16 bits) || the packed counters. The
# counters are their own freshness: a sync message is accepted only if it
# moves (trip, reset) forward.
from keyagent.secoc.bitpack import put_bits, get_bits, put_tag, tag_matches

SYNC_OK = 0
SYNC_MAC_MISMATCH = 1
SYNC_STALE = 2
SYNC_MALFORMED = 3


class SyncState:
    def __init__(self, trip_bits=16, reset_bits=20, flag_bits=2, mac_bits=28):
        self.trip_bits = trip_bits
        self.reset_bits = reset_bits
        self.flag_bits = flag_bits
        self.mac_bits = mac_bits
        self.pdu_len = (trip_bits + reset_bits + mac_bits + 7) >> 3
        self.trip = 0
        self.reset = 0
        self.valid = False
        self._buf = bytearray(((self.pdu_len + 2) >> 4) * 16 + 16)
        self._tag = bytearray(16)

    # FV master side.

    def start_trip(self, storage):
        # A new trip at every start of the FV master; persisted before use so
        # that a reset can never make the trip counter go back.
        trip = (storage.get("trip", 0) or 0) + 1
        if trip >> self.trip_bits:
            raise ValueError("trip counter exhausted")
        storage.put("trip", trip)
        self.trip = trip
        self.reset = 0
        self.valid = True

    def next_reset(self, storage):
        self.reset += 1
        if self.reset >> self.reset_bits:
            self.start_trip(storage)

    def build(self, data_id, cmac, out):
        # Writes the sync PDU into out; returns its length.
        n = self._authenticate(data_id, cmac, self.trip, self.reset)
        for i in range(self.pdu_len):
            out[i] = 0
        put_bits(out, 0, self.trip, self.trip_bits)
        put_bits(out, self.trip_bits, self.reset, self.reset_bits)
        put_tag(out, self.trip_bits + self.reset_bits, self._tag, self.mac_bits)
        return n

    # Receiving side.

    def check(self, data_id, cmac, pdu, n, storage=None):
        # Returns SYNC_OK and adopts the counters, or a rejection reason.
        if n != self.pdu_len:
            return SYNC_MALFORMED
        trip = get_bits(pdu, 0, self.trip_bits)
        reset = get_bits(pdu, self.trip_bits, self.reset_bits)
        self._authenticate(data_id, cmac, trip, reset)
        if not tag_matches(pdu, self.trip_bits + self.reset_bits, self._tag, self.mac_bits):
            return SYNC_MAC_MISMATCH
        floor = storage.get("trip", 0) if storage is not None else 0
        if trip < floor or (self.valid and (trip, reset) <= (self.trip, self.reset)):
            return SYNC_STALE
        self.trip = trip
        self.reset = reset
        self.valid = True
        if storage is not None:
            storage.put("trip", trip)
        return SYNC_OK

    def _authenticate(self, data_id, cmac, trip, reset):
        b = self._buf
        b[0] = data_id >> 8
        b[1] = data_id & 0xFF
        counters = (self.trip_bits + self.reset_bits + 7) >> 3
        for i in range(2, 2 + counters):
            b[i] = 0
        put_bits(b, 16, trip, self.trip_bits)
        put_bits(b, 16 + self.trip_bits, reset, self.reset_bits)
        cmac.digest_into(b, 2 + counters, self._tag)
        return self.pdu_len
