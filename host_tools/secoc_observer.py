# A passive SecOC observer: the verification and rekey following that
# `qkd-secoc monitor` (live) and `qkd-secoc trace analyze` (offline) share.
#
#   obs = Observer(load_config(path), load_keys(path), load_dbcs(paths))
#   verdict = obs.on_frame(t_seconds, can_id, data)   # every frame seen, in order
#   obs.messages -> {(can_id, extended): MessageStats}; obs.events -> [Event]
#   obs.table(), obs.report()                          # text and JSON-able
#
# Every SecOC PDU of the node configuration is verified by the receiver
# keyagent.agent builds for it (a SecOCRx with the current key and an
# alternate key, each with its own freshness state); host_tools.observer_epochs
# keys and switches them as the rekeys on the bus go. Multi-counter PDUs
# share the trip and reset counters of the FV master's sync message, which
# host_tools.observer_sync checks and follows. Verdicts are
# keyagent.secoc.engine.REASONS, "plain" for other frames and "isotp" for frames of
# the key-management channels; a sync message's are "ok" or
# keyagent.secoc.fv_sync.SYNC_REASONS. It never sends anything; keys never reach any
# output (host_tools.observer_report formats what it counts).
from host_tools.observer_epochs import EpochFollower, is_isotp_id
from host_tools.observer_report import MessageStats, report, table
from host_tools.observer_sync import SYNC_NAME, SyncFollower
from keyagent.rekey.ids import ACTIVATE_ID

# A key installed at start-up from the key file belongs to an epoch that may
# have run for a while: until one frame verifies, try FVs up to this value.
SYNC_FV_WINDOW = 1 << 16

PLAIN = "plain"  # a frame that is neither a SecOC PDU nor key management
ISOTP = "isotp"  # one frame of a key-management ISO-TP message


class _Pdu:
    # One configured PDU as the observer receives it: the agent's own Pdu
    # (layout, receiver, freshness managers) and whether its counter is known.
    __slots__ = ("cfg", "rx", "unsynced")

    def __init__(self, cfg):
        self.cfg = cfg
        self.rx = cfg.rx
        self.unsynced = False


class Observer:
    def __init__(self, config, keys, dbcs=()):
        pdus, auth_keys, grace_ms = config
        self._pdus = {p.can_id: _Pdu(p) for p in pdus}
        self._dbcs = list(dbcs)
        self._dbc_cache = {}
        self.messages = {}
        self.events = []
        self.frames = 0
        self._t0 = None
        self.epochs = EpochFollower(list(self._pdus.values()), auth_keys, keys, grace_ms / 1000.0, self.events)
        multi = [p.multi for p in pdus if p.multi is not None]
        self.sync = SyncFollower(multi[0], self.epochs, self.events) if multi else None

    def on_frame(self, t, can_id, data, is_extended=False):
        """Observe one frame at time t (seconds); returns its verdict."""
        if self._t0 is None:
            self._t0 = t
        t -= self._t0
        self.epochs.expire(t)
        self.frames += 1
        epoch = signals = None
        pdu = None if is_extended else self._pdus.get(can_id)
        sync = self.sync is not None and not is_extended and can_id == self.sync.can_id
        if pdu is not None:
            verdict, epoch = self._secoc(t, pdu, data)
        elif is_extended:
            verdict = PLAIN
        elif can_id == ACTIVATE_ID:
            verdict, epoch = self.epochs.on_activate(t, data)
        elif sync:
            verdict, epoch, signals = self.sync.on_frame(t, data)
        elif is_isotp_id(can_id):
            verdict = ISOTP
            self.epochs.on_isotp(t, can_id, data)
        else:
            verdict = PLAIN
        secured = pdu is not None or sync
        st = self.messages.get((can_id, is_extended))
        if st is None:
            name = pdu.cfg.name if pdu is not None else self._dbc_name(can_id, is_extended)
            st = self.messages[(can_id, is_extended)] = MessageStats(
                can_id, is_extended, name or (SYNC_NAME if sync else ""), secured)
        st.add(t, verdict)
        if epoch is not None:
            st.epoch = epoch
        if verdict != "ok" and secured:
            return verdict  # signals of unauthentic frames are not shown
        if not sync:
            signals = self._decode(can_id, is_extended, data, pdu)
        if signals is not None:
            st.signals = signals
        return verdict

    def _secoc(self, t, pdu, data):
        from keyagent.secoc.engine import REASONS, OK, MAC_MISMATCH

        rx = pdu.rx
        n = len(data)
        reason = rx.verify(data, n)
        if reason == MAC_MISMATCH and pdu.unsynced and rx.fvm is not None:
            # Started mid-epoch: look further ahead for this PDU's counter.
            saved = rx.fvm.attempts
            rx.fvm.attempts = max(saved, SYNC_FV_WINDOW >> rx.layout.tx_fv_bits)
            reason = rx.verify(data, n)
            rx.fvm.attempts = saved
        if reason != OK:
            return REASONS[reason], None
        pdu.unsynced = False
        ep = self.epochs
        if not rx.used_alt:
            return "ok", ep.current
        epoch = ep.alt
        if ep.alt_role == "pending":
            # Only activated senders use the pending key: the switch happened
            # (a receiver that missed every ACTIVATE switches the same way).
            ep.switch(t, "frame")
        return "ok", epoch

    def table(self, max_events=None, width=None, all_ids=False, max_lines=None):
        return table(self, max_events, width, all_ids, max_lines)

    def report(self):
        return report(self)

    # -- signals ----------------------------------------------------------
    def _dbc_message(self, can_id, is_extended):
        key = (can_id, is_extended)
        if key not in self._dbc_cache:
            found = None
            for db in self._dbcs:
                for m in db.messages:
                    if m.frame_id == can_id and m.is_extended_frame == is_extended:
                        found = m
                        break
                if found is not None:
                    break
            self._dbc_cache[key] = found
        return self._dbc_cache[key]

    def _dbc_name(self, can_id, is_extended):
        m = self._dbc_message(can_id, is_extended)
        return m.name if m is not None else ""

    def _decode(self, can_id, is_extended, data, pdu):
        m = self._dbc_message(can_id, is_extended)
        if m is None:
            return None
        try:
            values = m.decode(bytes(data), decode_choices=True, allow_truncated=True)
        except Exception:  # a frame that does not fit its DBC entry: no signals
            return None
        skip = (m.name + "_FV", m.name + "_MAC") if pdu is not None else ()
        return {k: (v if isinstance(v, (int, float)) else str(v)) for k, v in values.items() if k not in skip}
