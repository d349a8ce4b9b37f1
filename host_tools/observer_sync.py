# The observer's share of multi-counter freshness (docs/freshness.md): the
# FV master's sync message, checked as a receiving ECU checks it, so that
# the receivers of the "freshness": "multi" PDUs rebuild their values from
# the trip and reset counters it carries.
#
# The counters and their rules are keyagent's own: one
# keyagent.secoc.multi_counter.MultiCounter (layout, sync CAN ID and Data
# ID from the node configuration) whose SyncState every multi-counter
# receiver shares, and SyncState.check for each sync message. Only the keys
# are the observer's: K_sync of the current epoch, then of the alternate
# one (pending or retiring), as host_tools.observer_epochs follows them,
# where an ECU takes them from its KeySlots. The observer is never the FV
# master and persists nothing: it takes the first authentic sync it sees
# (started mid-run, it recovers there, as a rebooted ECU does), then only
# syncs that move the counters forward.
from host_tools.observer_report import Event
from keyagent.secoc.fv_sync import SYNC_MAC_MISMATCH, SYNC_OK, SYNC_REASONS

SYNC_NAME = "FvSync"  # the sync message's row, unless a DBC names its CAN ID
NO_KEY = "no_key"  # neither epoch's key is known: the sync cannot be checked


def sync_counters(doc, where="configuration"):
    """The MultiCounter an observer shares among the multi-counter PDUs of
    the node configuration doc (its "freshness" section); a mistake in it
    is a UserError."""
    from host_tools.errors import UserError
    from keyagent.secoc.multi_counter import MultiCounter

    f = doc.get("freshness", {})
    if not isinstance(f, dict):
        raise UserError("%s: \"freshness\" must be an object" % where)
    for name, top in (("sync_can_id", 0x7FF), ("sync_data_id", 0xFFFF), ("missed_syncs", 255)):
        value = f.get(name, 0)
        if type(value) is not int or not 0 <= value <= top:
            raise UserError("%s: freshness: %s must be 0..%d" % (where, name, top))
    try:
        # node None: never the FV master (a node ID is 0..63); no storage:
        # the trip floor is what the observer has seen itself.
        return MultiCounter({"node": None, "freshness": f}, None)
    except ValueError as e:
        raise UserError("%s: freshness: %s" % (where, e)) from None


class SyncFollower:
    def __init__(self, multi, epochs, events):
        self.multi = multi  # keyagent.secoc.multi_counter.MultiCounter
        self.state = multi.state  # the SyncState of every multi-counter receiver
        self.can_id = multi.can_id
        self.epochs = epochs  # host_tools.observer_epochs.EpochFollower
        self.events = events
        self._keys = {}  # epoch -> Cmac under K_sync

    def on_frame(self, t, data):
        """One sync message at time t: (verdict, epoch of the key that
        verified it or None, its counters as signals or None). Verdicts:
        "ok", keyagent.secoc.fv_sync.SYNC_REASONS' rejections, or no_key."""
        ep = self.epochs
        self._forget(ep.current, ep.alt)
        s = self.state
        held = (s.trip, s.reset) if s.valid else None
        reason = None
        epoch = None
        # As an ECU does: the current epoch's key first, then the alternate
        # one; a MAC that matches under either decides.
        for e in (ep.current, ep.alt):
            key = self._key(e)
            if key is not None and (reason is None or reason == SYNC_MAC_MISMATCH):
                reason = s.check(self.multi.data_id, key, data, len(data))
                epoch = e
        if reason is None:
            return NO_KEY, None, None
        if reason != SYNC_OK:
            return SYNC_REASONS[reason], None, None
        if epoch == ep.alt and ep.alt_role == "pending":
            # The FV master sends under its current key: it has switched.
            ep.switch(t, "sync")
        if held is None or s.trip != held[0]:
            # The first sync seen, or the FV master's new trip (its reset).
            self.events.append(Event(t, "fv_trip", epoch, None, "trip %d, reset %d%s" % (
                s.trip, s.reset, ", first sync seen" if held is None else "")))
        return "ok", epoch, {"trip": s.trip, "reset": s.reset}

    def _key(self, epoch):
        if epoch is None:
            return None
        key = self._keys.get(epoch)
        if key is None:
            k_epoch = self.epochs.k_epoch(epoch)
            if k_epoch is None:
                return None
            from keyagent.secoc.multi_counter import sync_key

            key = self._keys[epoch] = sync_key(k_epoch, epoch)
        return key

    def _forget(self, *keep):
        # A sync key of an epoch the observer no longer holds is zeroised.
        for epoch in [e for e in self._keys if e not in keep]:
            self._keys.pop(epoch).zeroise()
