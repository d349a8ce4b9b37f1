# AUTOSAR SecOC: authenticating and verifying secured I-PDUs.
#
#   MAC input   = Data ID (16 bits, big-endian) || authentic PDU
#                 || complete freshness value (big-endian, ceil(fv_bits/8) bytes)
#   secured PDU = [length header] || authentic PDU || truncated FV (its low
#                 tx bits) || truncated MAC (its high bits), packed MSB first,
#                 zero bits up to a whole byte; on CAN FD, padded to a valid
#                 FD frame length.
#
# SecOCTx and SecOCRx keep every buffer they need, so protect() and verify()
# allocate nothing on MicroPython. Peer input never raises: verify() returns
# a reason code and counts it.
from keyagent.compat import const
from keyagent.bitpack import put_bits, get_bits, put_tag, tag_matches
from keyagent.bufops import copy_into

OK = const(0)
MAC_MISMATCH = const(1)
STALE_FRESHNESS = const(2)
MALFORMED_LENGTH = const(3)
UNKNOWN_DATA_ID = const(4)
NO_KEY = const(5)
FRESHNESS_UNAVAILABLE = const(6)
REASONS = ("ok", "mac_mismatch", "stale_freshness", "malformed_length",
           "unknown_data_id", "no_key", "freshness_unavailable")

# (complete FV bits, transmitted FV bits, transmitted MAC bits)
PROFILES = {
    1: (8, 8, 24),  # 24Bit-CMAC-8Bit-FV
    2: (0, 0, 24),  # 24Bit-CMAC-No-FV
    3: (64, 4, 28),  # JASPAR
}

_FD_LENGTHS = (12, 16, 20, 24, 32, 48, 64)
_SCRATCH = const(80)  # Data ID + 64-byte PDU + 8-byte FV, rounded up to blocks


def frame_length(n, fd):
    # The CAN frame length that carries n bytes (CAN FD has DLC steps).
    if n <= 8:
        return n
    if fd:
        for length in _FD_LENGTHS:
            if n <= length:
                return length
    return -1


class PduLayout:
    # The static description of one secured PDU, shared by its sender and
    # receivers. Bad settings are the caller's mistake: ValueError.
    def __init__(self, data_id, payload_len, fv_bits, tx_fv_bits, mac_bits,
                 header_bits=0, fd=False, pad=0x00):
        if not 0 <= data_id <= 0xFFFF:
            raise ValueError("Data ID is 16 bits")
        if not 0 <= tx_fv_bits <= fv_bits <= 64:
            raise ValueError("need 0 <= truncated FV bits <= FV bits <= 64")
        if not 1 <= mac_bits <= 128:
            raise ValueError("MAC bits must be 1..128")
        if header_bits not in (0, 8, 16):
            raise ValueError("length header is 0, 8 or 16 bits")
        self.data_id = data_id
        self.payload_len = payload_len
        self.fv_bits = fv_bits
        self.fv_bytes = (fv_bits + 7) >> 3
        self.tx_fv_bits = tx_fv_bits
        self.mac_bits = mac_bits
        self.header_len = header_bits >> 3
        self.fd = fd
        self.pad = pad
        self.auth_len = (tx_fv_bits + mac_bits + 7) >> 3
        self.max_len = frame_length(self.secured_len(payload_len), fd)
        if self.max_len < 0:
            raise ValueError("secured PDU of %d bytes does not fit a %s frame"
                             % (self.secured_len(payload_len), "CAN FD" if fd else "classic CAN"))

    def secured_len(self, plen):
        return self.header_len + plen + self.auth_len


def layout_for_profile(profile, data_id, payload_len, fv_bits=None, fd=False, header_bits=0):
    full, tx, mac = PROFILES[profile]
    if fv_bits is not None:
        full = fv_bits
        tx = min(tx, full)
    return PduLayout(data_id, payload_len, full, tx, mac, header_bits, fd)


class _Endpoint:
    def __init__(self, layout, fvm):
        if layout.fv_bits and (fvm is None or fvm.fv_bits != layout.fv_bits
                               or fvm.tx_bits != layout.tx_fv_bits):
            raise ValueError("freshness manager does not match the PDU layout")
        self.layout = layout
        self.fvm = fvm
        self.key = None  # a keyagent.cmac.Cmac, installed by the key manager
        self._msg = bytearray(_SCRATCH)
        self._tag = bytearray(16)

    def _mac(self, key, payload, poff, plen, fv):
        # Tag of Data ID || payload[poff:poff+plen] || FV, into self._tag.
        lay = self.layout
        m = self._msg
        m[0] = lay.data_id >> 8
        m[1] = lay.data_id & 0xFF
        copy_into(m, 2, payload, poff, plen)
        n = 2 + plen
        for i in range(lay.fv_bytes - 1, -1, -1):
            m[n + i] = fv & 0xFF
            fv >>= 8
        key.digest_into(m, n + lay.fv_bytes, self._tag)


class SecOCTx(_Endpoint):
    def protect(self, payload, plen, out):
        # Writes the secured frame for payload[0:plen] into out. Returns its
        # length, or minus a reason code (NO_KEY, FRESHNESS_UNAVAILABLE).
        lay = self.layout
        if self.key is None:
            return -NO_KEY
        if plen > lay.payload_len:
            raise ValueError("payload longer than the PDU's authentic length")
        fv = 0
        if lay.fv_bits:
            fv = self.fvm.next_tx()
            if fv < 0:
                return -FRESHNESS_UNAVAILABLE
        self._mac(self.key, payload, 0, plen, fv)
        h = lay.header_len
        if h == 2:
            out[0] = plen >> 8
        if h:
            out[h - 1] = plen & 0xFF
        copy_into(out, h, payload, 0, plen)
        end = h + plen
        n = lay.secured_len(plen)
        for i in range(end, n):
            out[i] = 0
        pos = end << 3
        if lay.tx_fv_bits:
            put_bits(out, pos, fv, lay.tx_fv_bits)
        put_tag(out, pos + lay.tx_fv_bits, self._tag, lay.mac_bits)
        total = frame_length(n, lay.fd)
        for i in range(n, total):
            out[i] = lay.pad
        return total


class SecOCRx(_Endpoint):
    def __init__(self, layout, fvm):
        super().__init__(layout, fvm)
        self.prev_key = None  # previous epoch's key, during the grace period
        self.payload_off = 0  # the authentic PDU of the last OK frame is
        self.payload_len = 0  # frame[payload_off:payload_off + payload_len]
        self.used_prev = False  # the last OK frame verified with prev_key
        self.fv = 0  # complete FV of the last OK frame
        self.failures = bytearray(len(REASONS))  # per reason, saturating at 255
        self.last_reason = OK

    def verify(self, frame, n):
        reason = self._verify(frame, n)
        self.last_reason = reason
        if reason and self.failures[reason] < 255:
            self.failures[reason] += 1
        return reason

    def _verify(self, frame, n):
        lay = self.layout
        h = lay.header_len
        plen = lay.payload_len
        if h:
            if n < h:
                return MALFORMED_LENGTH
            plen = frame[0] if h == 1 else (frame[0] << 8) | frame[1]
            if plen > lay.payload_len:
                return MALFORMED_LENGTH
        if n != frame_length(lay.secured_len(plen), lay.fd):
            return MALFORMED_LENGTH
        if self.key is None and self.prev_key is None:
            return NO_KEY
        pos = (h + plen) << 3
        trunc = get_bits(frame, pos, lay.tx_fv_bits) if lay.tx_fv_bits else 0
        pos += lay.tx_fv_bits
        fvm = self.fvm
        if not lay.fv_bits:
            return self._try(frame, h, plen, pos, 0)
        for attempt in range(fvm.attempts + 1):
            fv = fvm.candidate(trunc, attempt)
            if fv < 0:
                break
            if self._try(frame, h, plen, pos, fv) == OK:
                fvm.accept(fv)
                return OK
        if not fvm.ready():
            return FRESHNESS_UNAVAILABLE  # e.g. no sync message yet
        if lay.tx_fv_bits == lay.fv_bits and fvm.candidate(trunc, 0) < 0:
            return STALE_FRESHNESS  # the complete FV came with it: no newer
        # Would it verify with a value already used? Then it is a replay.
        for k in range(fvm.attempts + 1):
            fv = fvm.stale(trunc, k)
            if fv < 0:
                break
            if self._try(frame, h, plen, pos, fv) == OK:
                return STALE_FRESHNESS
        return MAC_MISMATCH

    def _try(self, frame, h, plen, pos, fv):
        # Checks the frame's MAC against the current key, then the previous.
        mac_bits = self.layout.mac_bits
        for key in (self.key, self.prev_key):
            if key is None:
                continue
            self._mac(key, frame, h, plen, fv)
            if tag_matches(frame, pos, self._tag, mac_bits):
                self.payload_off = h
                self.payload_len = plen
                self.used_prev = key is self.prev_key
                self.fv = fv
                return OK
        return MAC_MISMATCH
