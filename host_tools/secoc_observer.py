# A passive SecOC observer: the verification and rekey-following logic that
# `qkd-secoc monitor` (live) and `qkd-secoc trace analyze` (offline) share.
#
#   obs = Observer(load_config(path), load_keys(path), load_dbcs(paths))
#   verdict = obs.on_frame(t_seconds, can_id, data)   # every frame seen, in order
#   obs.messages -> {(can_id, extended): MessageStats}; obs.events -> [Event]
#   obs.table(), obs.report()                          # text and JSON-able
#
# Every SecOC PDU of the node configuration gets a keyagent.secoc.SecOCRx,
# keyed and switched the way a receiving ECU's are (docs/rekey-protocol.md):
# the current epoch's cluster key, and an alternate key with its own
# freshness state while the next epoch is pending and for grace_ms after the
# switch. Epoch keys come from the key file (QKD key ID -> QKD key, epoch ->
# K_epoch) and from what the observer sees: ANNOUNCE names the QKD key ID,
# DELIVER carries K_epoch in SHE M2 (readable when the configuration holds
# that slave's K_auth), ACTIVATE (or the first frame under the pending key)
# switches. It never sends anything. Keys never reach any output.

ACTIVATE_ID = 0x6F0
M2S_BASE = 0x700  # master to slave `node`: 0x700 + node
S2M_BASE = 0x740  # slave `node` to master: 0x740 + node
MAX_NODE = 63
# A key installed at start-up from the key file belongs to an epoch that may
# have run for a while: until one frame verifies, try FVs up to this value.
SYNC_FV_WINDOW = 1 << 16
ISOTP_MAX = 2048  # the longest rekey message (DELIVER with 255 floors) fits

PLAIN = "plain"  # a frame that is neither a SecOC PDU nor key management
ISOTP = "isotp"  # one frame of a key-management ISO-TP message
SHOWN_VERDICTS = ("ok", "mac_mismatch", "stale_freshness")


class MessageStats:
    __slots__ = ("can_id", "name", "count", "verdicts", "first_t", "last_t", "last_verdict", "epoch",
                 "signals")

    def __init__(self, can_id, name):
        self.can_id = can_id
        self.name = name
        self.count = 0
        self.verdicts = {}
        self.first_t = None
        self.last_t = None
        self.last_verdict = None
        self.epoch = None  # epoch of the key that verified the last OK frame
        self.signals = None  # decoded signals of the last (verified) frame

    def rate(self):
        """Mean frames per second over the span seen (0 below two frames)."""
        if self.count < 2 or self.last_t <= self.first_t:
            return 0.0
        return (self.count - 1) / (self.last_t - self.first_t)


class Event:
    __slots__ = ("t", "kind", "epoch", "node", "detail")

    def __init__(self, t, kind, epoch=None, node=None, detail=""):
        self.t = t
        self.kind = kind
        self.epoch = epoch
        self.node = node
        self.detail = detail

    def as_dict(self):
        d = {"t": round(self.t, 4), "event": self.kind}
        if self.epoch is not None:
            d["epoch"] = self.epoch
        if self.node is not None:
            d["node"] = self.node
        if self.detail:
            d["detail"] = self.detail
        return d

    def line(self):
        parts = ["%10.3f" % self.t, self.kind]
        if self.epoch is not None:
            parts.append("epoch %d" % self.epoch)
        if self.node is not None:
            parts.append("node %d" % self.node)
        if self.detail:
            parts.append("(%s)" % self.detail)
        return " ".join(parts)




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
        from keyagent.cmac import Cmac
        from keyagent import she

        pdus, auth_keys, grace_ms = config
        self._pdus = {p.can_id: _Pdu(p) for p in pdus}
        self._auth = {n: Cmac(k) for n, k in auth_keys.items()}
        self._she_k1 = {n: she.kdf(k, she.KEY_UPDATE_ENC_C) for n, k in auth_keys.items()}
        self._qkd_keys = dict(keys.qkd_keys)
        self._epoch_keys = dict(keys.epoch_keys)
        self._cluster_keys = {}  # (epoch, cluster) -> Cmac
        self._isotp = {}  # CAN ID -> IsoTpReceiver
        self._dbcs = list(dbcs)
        self._dbc_cache = {}
        self.grace_s = grace_ms / 1000.0
        self.current = None  # epoch whose keys are current
        self.alt = None  # epoch of the alternate keys
        self.alt_role = None  # "pending", "grace" or "previous" (start-up)
        self.grace_until = None
        self.messages = {}
        self.events = []
        self.frames = 0
        self._t0 = None
        known = sorted(self._epoch_keys)
        if known:
            # Joining a running bus: the newest known epoch is taken as
            # current and the one before as the alternate, until the first
            # switch shows where the bus stands.
            self._install(known[-1], alt=False, unsynced=True)
            self.current = known[-1]
            if len(known) > 1:
                self._install(known[-2], alt=True, unsynced=True)
                self.alt, self.alt_role = known[-2], "previous"

    # -- keys -----------------------------------------------------------
    def _cluster_key(self, epoch, cluster):
        from keyagent.cmac import Cmac
        from keyagent.kdf import secoc_key

        k = self._cluster_keys.get((epoch, cluster))
        if k is None:
            k = self._cluster_keys[(epoch, cluster)] = Cmac(secoc_key(self._epoch_keys[epoch], cluster, epoch))
        return k

    def _install(self, epoch, alt, unsynced=False):
        for p in self._pdus.values():
            key = self._cluster_key(epoch, p.cfg.cluster)
            fvm = p.cfg.fvm(1)  # as keyagent.agent gives its receivers
            if alt:
                p.rx.alt_key, p.rx.alt_fvm = key, fvm
            else:
                p.rx.key, p.rx.fvm = key, fvm
                p.unsynced = unsynced

    def _drop_alt(self):
        for p in self._pdus.values():
            p.rx.alt_key = p.rx.alt_fvm = None
        old = self.alt
        self.alt = self.alt_role = self.grace_until = None
        for ek in [ek for ek in self._cluster_keys if ek[0] == old]:
            self._cluster_keys.pop(ek).zeroise()

    def _set_pending(self, epoch):
        if epoch not in self._epoch_keys:
            return
        if (self.current is not None and epoch <= self.current) or (epoch == self.alt and self.alt_role == "pending"):
            return
        if self.alt is not None:
            self._drop_alt()
        self._install(epoch, alt=True)
        self.alt, self.alt_role = epoch, "pending"

    def _switch(self, t, how):
        if self.alt_role != "pending":
            return
        for p in self._pdus.values():
            p.rx.swap_keys()
            p.unsynced = False
        self.current, self.alt = self.alt, self.current
        self.alt_role = "grace" if self.alt is not None else None
        self.grace_until = t + self.grace_s if self.alt is not None else None
        self.events.append(Event(t, "switch", self.current, None, how))

    def _expire(self, t):
        if self.alt_role == "grace" and t >= self.grace_until:
            self.events.append(Event(self.grace_until, "grace_end", self.alt))
            self._drop_alt()

    # -- frames ---------------------------------------------------------
    def on_frame(self, t, can_id, data, is_extended=False):
        """Observe one frame at time t (seconds); returns its verdict."""
        if self._t0 is None:
            self._t0 = t
        t -= self._t0
        self._expire(t)
        self.frames += 1
        epoch = None
        pdu = None if is_extended else self._pdus.get(can_id)
        if pdu is not None:
            verdict, epoch = self._secoc(t, pdu, data)
        elif is_extended:
            verdict = PLAIN
        elif can_id == ACTIVATE_ID:
            verdict, epoch = self._activate(t, data)
        elif M2S_BASE < can_id <= M2S_BASE + MAX_NODE or S2M_BASE < can_id <= S2M_BASE + MAX_NODE:
            verdict = ISOTP
            self._isotp_frame(t, can_id, data)
        else:
            verdict = PLAIN
        st = self.messages.get((can_id, is_extended))
        if st is None:
            name = pdu.cfg.name if pdu is not None else self._dbc_name(can_id, is_extended)
            st = self.messages[(can_id, is_extended)] = MessageStats(can_id, name)
        st.count += 1
        if st.first_t is None:
            st.first_t = t
        st.last_t = t
        st.verdicts[verdict] = st.verdicts.get(verdict, 0) + 1
        st.last_verdict = verdict
        if epoch is not None:
            st.epoch = epoch
        if verdict != "ok" and pdu is not None:
            return verdict  # signals of unauthentic frames are not shown
        signals = self._decode(can_id, is_extended, data, pdu)
        if signals is not None:
            st.signals = signals
        return verdict

    def _secoc(self, t, pdu, data):
        from keyagent.secoc import REASONS, OK, MAC_MISMATCH

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
        if not rx.used_alt:
            return "ok", self.current
        epoch = self.alt
        if self.alt_role == "pending":
            # Only activated senders use the pending key: the switch happened
            # (a receiver that missed every ACTIVATE switches the same way).
            self._switch(t, "frame")
        return "ok", epoch

    def _activate(self, t, data):
        from keyagent import rekey_msgs
        from keyagent.cmac import Cmac

        if len(data) != 8 or data[0] != rekey_msgs.ACTIVATE:
            return "malformed_length", None
        epoch = rekey_msgs.get32(data, 1)
        k_epoch = self._epoch_keys.get(epoch)
        if k_epoch is None:
            self.events.append(Event(t, "activate", epoch, None, "no key"))
            return "no_key", epoch
        mgmt = Cmac(rekey_msgs.mgmt_key(k_epoch, epoch))
        ok = rekey_msgs.check_activate(mgmt, data, 8)
        mgmt.zeroise()
        if not ok:
            self.events.append(Event(t, "activate", epoch, None, "mac mismatch"))
            return "mac_mismatch", epoch
        self.events.append(Event(t, "activate", epoch, None, "ok"))
        if self.current is None or epoch > self.current:
            self._set_pending(epoch)
            self._switch(t, "activate")
        return "ok", epoch

    def _isotp_frame(self, t, can_id, data):
        from keyagent.isotp import IsoTpReceiver

        rx = self._isotp.get(can_id)
        if rx is None:
            rx = self._isotp[can_id] = IsoTpReceiver(max_size=ISOTP_MAX)
        now_ms = int(t * 1000)
        rx.poll(now_ms)
        rx.on_frame(bytes(data), now_ms)  # its flow control answer is not sent
        msg = rx.pop_message()
        if msg is not None:
            if can_id < S2M_BASE:
                self._to_slave(t, can_id - M2S_BASE, msg)
            else:
                self._to_master(t, can_id - S2M_BASE, msg)

    def _open(self, node, msg, min_len):
        # (body or None, what the MAC check said)
        from keyagent import rekey_msgs

        auth = self._auth.get(node)
        if auth is None:
            return bytes(msg[:len(msg) - rekey_msgs.MAC_LEN]), "unchecked"
        body = rekey_msgs.open_sealed(auth, node, msg, min_len)
        return body, "mac ok" if body is not None else "mac mismatch"

    def _to_slave(self, t, node, msg):
        from keyagent import rekey_msgs as R

        kind = R.NAMES.get(msg[0], "unknown")
        if msg[0] == R.ANNOUNCE and len(msg) == 21 + R.MAC_LEN:
            body, auth = self._open(node, msg, 21)
            epoch = R.get32(msg, 1)
            if body is None:
                self.events.append(Event(t, kind, epoch, node, auth))
                return
            if epoch not in self._epoch_keys:
                q = self._qkd_keys.get(bytes(body[5:21]))
                if q is not None:
                    self._epoch_keys[epoch] = R.epoch_key(q, epoch)
            known = "key known" if epoch in self._epoch_keys else "key unknown"
            self.events.append(Event(t, kind, epoch, node, auth + ", " + known))
            self._set_pending(epoch)
        elif msg[0] == R.DELIVER:
            body, auth = self._open(node, msg, 71)
            parsed = R.parse_deliver(body) if body is not None else None
            if parsed is None:
                self.events.append(Event(t, kind, None, node, auth if body is None else "malformed"))
                return
            epoch, active, m1, m2, m3, floors = parsed
            self._deliver(t, node, auth, epoch, active, m2, floors)
        else:
            self.events.append(Event(t, kind, R.get32(msg, 1) if len(msg) >= 5 else None, node,
                                     "" if kind != "unknown" else "type 0x%02X" % msg[0]))

    def _deliver(self, t, node, auth, epoch, active, m2, floors):
        from keyagent import she

        k1 = self._she_k1.get(node)
        if k1 is not None and auth == "mac ok" and epoch not in self._epoch_keys:
            counter, flags, key = she.decrypt_m2(k1, m2)
            if counter >> 4 == epoch:
                self._epoch_keys[epoch] = bytes(key)
            for i in range(16):
                key[i] = 0
        known = "key known" if epoch in self._epoch_keys else "key unknown"
        self.events.append(Event(t, "deliver", epoch, node, "%s, %s, %s" % (
            auth, "active" if active else "pending", known)))
        if self.current is None or epoch > self.current:
            self._set_pending(epoch)
            if active:
                self._switch(t, "deliver")
        # A joining slave sends its own PDUs from the floor on.
        for index, floor in floors:
            for p in self._pdus.values():
                if p.cfg.index == index and p.cfg.sender == node:
                    fvm = p.rx.fvm if epoch == self.current else p.rx.alt_fvm if epoch == self.alt else None
                    if fvm is not None and fvm.last < floor:
                        fvm.restart(floor)

    def _to_master(self, t, node, msg):
        from keyagent import rekey_msgs as R

        kind = R.NAMES.get(msg[0], "unknown")
        epoch = R.get32(msg, 1) if len(msg) >= 5 else None
        detail = ""
        if msg[0] == R.NACK and len(msg) == 6 + R.MAC_LEN:
            detail = "status %d" % msg[5]
        elif kind == "unknown":
            detail = "type 0x%02X" % msg[0]
        self.events.append(Event(t, kind, epoch, node, detail))

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

    # -- output -----------------------------------------------------------
    def epoch_line(self):
        if self.current is None and self.alt is None:
            return "epoch: none (no keys)"
        text = "epoch: current %s" % ("none" if self.current is None else self.current)
        if self.alt_role == "pending":
            text += ", pending %d" % self.alt
        elif self.alt_role == "grace":
            text += ", previous %d until %.3f" % (self.alt, self.grace_until)
        elif self.alt_role == "previous":
            text += ", previous %d" % self.alt
        return text

    def table(self, max_events=None, width=None):
        # width: cut each message row to this many characters (None: whole rows)
        rows = ["%-8s %-16s %7s %8s %5s %6s %6s %6s %6s  %-18s %s" % (
            "ID", "NAME", "FRAMES", "RATE/s", "EPOCH", "OK", "MAC", "STALE", "OTHER", "LAST", "SIGNALS")]
        for key in sorted(self.messages):
            st = self.messages[key]
            secoc = not key[1] and key[0] in self._pdus
            if secoc:
                counts = [st.verdicts.get(v, 0) for v in SHOWN_VERDICTS]
                counts.append(sum(n for v, n in st.verdicts.items() if v not in SHOWN_VERDICTS))
                counts = ["%d" % c for c in counts]
            else:
                counts = ["-"] * 4
            ident = ("%08X" if key[1] else "%03X") % key[0]
            sig = " ".join("%s=%s" % (k, _fmt(v)) for k, v in (st.signals or {}).items())
            line = "%-8s %-16s %7d %8.1f %5s %6s %6s %6s %6s  %-18s %s" % (
                ident, st.name[:16], st.count, st.rate(), "-" if st.epoch is None else st.epoch,
                counts[0], counts[1], counts[2], counts[3], st.last_verdict, sig)
            rows.append((line if width is None else line[:width]).rstrip())
        rows.append(self.epoch_line())
        events = self.events if max_events is None else self.events[max(0, len(self.events) - max_events):]
        if max_events is not None and len(self.events) > max_events:
            rows.append("rekey events (last %d of %d):" % (max_events, len(self.events)))
        else:
            rows.append("rekey events: %d" % len(self.events))
        rows.extend("  " + e.line() for e in events)
        return "\n".join(rows) + "\n"

    def report(self):
        msgs = []
        for key in sorted(self.messages):
            st = self.messages[key]
            msgs.append({
                "id": st.can_id, "extended": key[1], "name": st.name, "frames": st.count,
                "rate_hz": round(st.rate(), 3), "secoc": not key[1] and key[0] in self._pdus,
                "verdicts": dict(sorted(st.verdicts.items())), "epoch": st.epoch,
                "first_t": round(st.first_t, 4), "last_t": round(st.last_t, 4),
                "signals": st.signals,
            })
        return {"frames": self.frames, "messages": msgs, "events": [e.as_dict() for e in self.events],
                "epoch": {"current": self.current, "alternate": self.alt, "alternate_role": self.alt_role}}


def _fmt(v):
    if isinstance(v, float):
        return "%g" % v
    return str(v)
