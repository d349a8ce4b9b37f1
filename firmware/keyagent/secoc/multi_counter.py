# One ECU's multi-counter freshness (docs/freshness.md), sans-I/O: the
# layout and trip/reset counters every "freshness": "multi" PDU of the node
# shares, and the sync message on the bus. The FV master (node 0 unless the
# configuration names another) starts a new trip at power-up (persisted
# first), and every sync_period_ms moves to the next reset cycle and sends
# the sync message; every other node checks it and adopts the counters.
# The sync is authenticated under K_sync of the current epoch (or the
# pending/retiring one, during a rekey):
#
#   K_sync = KDF(K_epoch, "qkd-secoc fv sync", [epoch]_32, 128)
#
# Node configuration: "freshness": {"layout": NAME or layout text (default
# "jaspar"), "master": node, "sync_can_id": 0x6F1, "sync_data_id": (the CAN
# ID), "sync_period_ms": 500, "missed_syncs": 1}.
from keyagent.crypto import kdf
from keyagent.crypto.cmac import Cmac
from keyagent.secoc.freshness import MultiCounterFreshness
from keyagent.secoc.fv_layout import FreshnessLayout
from keyagent.secoc.fv_sync import SYNC_MAC_MISMATCH, SYNC_OK, SYNC_REASONS, SyncState

SYNC_LABEL = b"qkd-secoc fv sync"
DEFAULT_SYNC_ID = 0x6F1
_FAR = 3600000


def sync_key(k_epoch, epoch):
    context = bytes(((epoch >> 24) & 0xFF, (epoch >> 16) & 0xFF, (epoch >> 8) & 0xFF, epoch & 0xFF))
    key = kdf.derive(bytes(k_epoch), SYNC_LABEL, context, 16)
    cmac = Cmac(key)
    for i in range(len(key)):
        key[i] = 0
    return cmac


class MultiCounter:
    def __init__(self, config, storage):
        f = config.get("freshness", {})
        self.layout = FreshnessLayout(f.get("layout", "jaspar"))
        self.state = SyncState(self.layout)
        self.can_id = f.get("sync_can_id", DEFAULT_SYNC_ID)
        self.data_id = f.get("sync_data_id", self.can_id)
        self.period = f.get("sync_period_ms", 500)
        self.missed = f.get("missed_syncs", 1)
        self.is_master = config["node"] == f.get("master", 0)
        self.storage = storage
        self.slots = None  # the agent's KeySlots (keyagent.rekey.keyslots), read for K_sync
        self._cur = self._alt = None  # the EpochKeys K_sync was last derived from
        self._layouts = {}  # truncated FV bits -> layout for those PDUs
        self.key = None  # Cmac under K_sync: current epoch
        self.key_epoch = -1
        self.alt_key = None  # pending or retiring epoch
        self.alt_epoch = -1
        self.sent_epoch = -1  # the master's last epoch it sent a sync under
        self.sent = False  # the master sent the first sync of its trip
        self.next_sync = 0
        self._frame = bytearray(8)
        if self.is_master:
            self.state.start_trip(storage)  # a new trip at every power-up

    def fvm(self, tx_bits, attempts=0, closed=False):
        lay = self._layouts.get(tx_bits)
        if lay is None:
            lay = self._layouts[tx_bits] = self.layout.for_tx_bits(tx_bits)
        return MultiCounterFreshness(self.state, lay, attempts, self.missed, closed)

    def _refresh(self, now):
        # Follows the key slots: K_sync of the current epoch and of the
        # pending or retiring one. The master sends a sync at once under a
        # new current key, before frames that use it.
        slots = self.slots
        if slots is None:
            return
        cur = slots.current
        alt = slots.pending or slots.retiring
        if cur is self._cur and alt is self._alt:
            return
        self._cur = cur
        self._alt = alt
        known = ((self.key_epoch, self.key), (self.alt_epoch, self.alt_key))
        self.key_epoch, self.key = self._key(cur, known)
        self.alt_epoch, self.alt_key = self._key(alt, known)
        for epoch, key in known:
            if key is not None and key is not self.key and key is not self.alt_key:
                key.zeroise()  # a retired epoch's sync key
        if self.is_master and self.key is not None and self.key_epoch != self.sent_epoch:
            self.sent_epoch = self.key_epoch
            self.next_sync = now

    def _key(self, keys, known):
        if keys is None:
            return -1, None
        for epoch, key in known:
            if epoch == keys.epoch:
                return epoch, key
        return keys.epoch, sync_key(keys.k_epoch, keys.epoch)

    def on_frame(self, data, now):
        # None when the sync message is taken, else the rejection reason's
        # name (keyagent.secoc.fv_sync.SYNC_REASONS), for the agent to count.
        self._refresh(now)
        reason = SYNC_MAC_MISMATCH  # the FV master takes no sync: it sends it
        for key in (self.key, self.alt_key):
            if key is not None and reason == SYNC_MAC_MISMATCH and not self.is_master:
                reason = self.state.check(self.data_id, key, data, len(data), self.storage)
        return None if reason == SYNC_OK else SYNC_REASONS[reason]

    def poll(self, now):
        # The sync frame to send now, or None.
        self._refresh(now)
        if not self.is_master or self.key is None or now < self.next_sync:
            return None
        if self.sent:  # the first sync of a trip carries reset 0
            self.state.next_reset(self.storage)
        self.sent = True
        self.next_sync = now + self.period
        n = self.state.build(self.data_id, self.key, self._frame)
        return bytes(self._frame[0:n])

    def next_timer(self, now):
        self._refresh(now)
        return self.next_sync if self.is_master and self.key is not None else now + _FAR
