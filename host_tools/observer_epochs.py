# The observer's epoch state: which epoch's keys are current, which is the
# alternate (pending, or retiring during the grace period), and how it learns
# them from the key-management traffic (docs/rekey-protocol.md). It keys the
# receivers of host_tools.secoc_observer the way keyagent.agent keys an ECU's:
# current key and alternate key, each with its own freshness state.
#
# Epoch keys come from the key file (QKD key ID -> QKD key, epoch -> K_epoch)
# and from the bus: ANNOUNCE names the QKD key ID, DELIVER carries K_epoch in
# SHE M2 (readable with that slave's K_auth from the configuration), ACTIVATE
# switches (as does the first frame verified under the pending key). Nothing
# a peer sends raises; what does not check out becomes an event detail.
from host_tools.observer_report import Event
from keyagent.rekey.ids import M2S_BASE, S2M_BASE

MAX_NODE = S2M_BASE - M2S_BASE - 1  # the highest node whose channel IDs stay apart
ISOTP_MAX = 2048  # the longest rekey message (DELIVER with 255 floors) fits


def is_isotp_id(can_id):
    return M2S_BASE < can_id <= M2S_BASE + MAX_NODE or S2M_BASE < can_id <= S2M_BASE + MAX_NODE


class EpochFollower:
    def __init__(self, pdus, auth_keys, keys, grace_s, events):
        # pdus: the observer's PDUs (.cfg a keyagent.agent.Pdu, .rx, .unsynced)
        from keyagent.crypto.cmac import Cmac
        from keyagent.crypto import she

        self._pdus = pdus
        self._auth = {n: Cmac(k) for n, k in auth_keys.items()}
        self._she_k1 = {n: she.kdf(k, she.KEY_UPDATE_ENC_C) for n, k in auth_keys.items()}
        self._keys = keys  # the key file (observer_inputs.Keys), asked again on a miss
        self._epoch_keys = dict(keys.epoch_keys)  # epoch -> K_epoch, as learnt
        self._announced = {}  # epoch -> the QKD key ID its ANNOUNCE named
        self._cluster_keys = {}  # (epoch, cluster) -> Cmac
        self._isotp = {}  # CAN ID -> IsoTpReceiver
        self.grace_s = grace_s
        self.events = events
        self.current = None  # epoch whose keys are current
        self.alt = None  # epoch of the alternate keys
        self.alt_role = None  # "pending", "grace" or "previous" (start-up)
        self.grace_until = None
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
        from keyagent.crypto.cmac import Cmac
        from keyagent.crypto.kdf import secoc_key

        k = self._cluster_keys.get((epoch, cluster))
        if k is None:
            k = self._cluster_keys[(epoch, cluster)] = Cmac(secoc_key(self._epoch_keys[epoch], cluster, epoch))
        return k

    def _install(self, epoch, alt, unsynced=False):
        for p in self._pdus:
            key = self._cluster_key(epoch, p.cfg.cluster)
            fvm = p.cfg.fvm(1)  # as keyagent.agent gives its receivers
            if alt:
                p.rx.alt_key, p.rx.alt_fvm = key, fvm
            else:
                p.rx.key, p.rx.fvm = key, fvm
                # Multi-counter PDUs find their counters at the next sync.
                p.unsynced = unsynced and p.cfg.multi is None

    def _drop_alt(self):
        for p in self._pdus:
            p.rx.alt_key = p.rx.alt_fvm = None
        old = self.alt
        self.alt = self.alt_role = self.grace_until = None
        for ek in [ek for ek in self._cluster_keys if ek[0] == old]:
            self._cluster_keys.pop(ek).zeroise()

    def k_epoch(self, epoch):
        # K_epoch of an epoch whose keys the observer holds, or None.
        return self._epoch_keys.get(epoch)

    def _known(self, epoch):
        # Is K_epoch known (from the key file, possibly re-read, or derived
        # from the QKD key an ANNOUNCE named)?
        if epoch in self._epoch_keys:
            return True
        from keyagent.rekey import messages as rekey_msgs

        k = self._keys.epoch_key(epoch)
        if k is None and epoch in self._announced:
            q = self._keys.qkd_key(self._announced[epoch])
            if q is not None:
                k = rekey_msgs.epoch_key(q, epoch)
        if k is None:
            return False
        self._epoch_keys[epoch] = k
        return True

    def _set_pending(self, epoch):
        if not self._known(epoch):
            return
        if (self.current is not None and epoch <= self.current) or (epoch == self.alt and self.alt_role == "pending"):
            return
        if self.alt is not None:
            self._drop_alt()
        self._install(epoch, alt=True)
        self.alt, self.alt_role = epoch, "pending"

    def switch(self, t, how):
        # The pending epoch becomes current; the old one verifies for grace_s.
        if self.alt_role != "pending":
            return
        for p in self._pdus:
            p.rx.swap_keys()
            p.unsynced = False
        self.current, self.alt = self.alt, self.current
        self.alt_role = "grace" if self.alt is not None else None
        self.grace_until = t + self.grace_s if self.alt is not None else None
        self.events.append(Event(t, "switch", self.current, None, how))

    def expire(self, t):
        if self.alt_role == "grace" and t >= self.grace_until:
            self.events.append(Event(self.grace_until, "grace_end", self.alt))
            self._drop_alt()

    # -- key-management frames -------------------------------------------
    def on_activate(self, t, data):
        # An ACTIVATE frame: (verdict, epoch).
        from keyagent.rekey import messages as rekey_msgs
        from keyagent.crypto.cmac import Cmac

        if len(data) != 8 or data[0] != rekey_msgs.ACTIVATE:
            return "malformed_length", None
        epoch = rekey_msgs.get32(data, 1)
        if not self._known(epoch):
            self.events.append(Event(t, "activate", epoch, None, "no key"))
            return "no_key", epoch
        k_epoch = self._epoch_keys[epoch]
        mgmt = Cmac(rekey_msgs.mgmt_key(k_epoch, epoch))
        ok = rekey_msgs.check_activate(mgmt, data, 8)
        mgmt.zeroise()
        if not ok:
            self.events.append(Event(t, "activate", epoch, None, "mac mismatch"))
            return "mac_mismatch", epoch
        self.events.append(Event(t, "activate", epoch, None, "ok"))
        if self.current is None or epoch > self.current:
            self._set_pending(epoch)
            self.switch(t, "activate")
        return "ok", epoch

    def on_isotp(self, t, can_id, data):
        from keyagent.isotp.connection import IsoTpReceiver

        rx = self._isotp.get(can_id)
        if rx is None:
            # fd: also the CAN FD framing ("isotp_tx_dl": 64) and its single frames
            rx = self._isotp[can_id] = IsoTpReceiver(max_size=ISOTP_MAX, fd=True)
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
        from keyagent.rekey import messages as rekey_msgs

        auth = self._auth.get(node)
        if auth is None:
            return bytes(msg[:len(msg) - rekey_msgs.MAC_LEN]), "unchecked"
        body = rekey_msgs.open_sealed(auth, node, msg, min_len)
        return body, "mac ok" if body is not None else "mac mismatch"

    def _to_slave(self, t, node, msg):
        from keyagent.rekey import messages as R

        kind = R.NAMES.get(msg[0], "unknown")
        if msg[0] == R.ANNOUNCE and len(msg) == R.ANNOUNCE_BODY + R.MAC_LEN:
            body, auth = self._open(node, msg, R.ANNOUNCE_BODY)
            epoch = R.get32(msg, 1)
            if body is None:
                self.events.append(Event(t, kind, epoch, node, auth))
                return
            self._announced[epoch] = bytes(body[5:21])
            known = "key known" if self._known(epoch) else "key unknown"
            self.events.append(Event(t, kind, epoch, node, auth + ", " + known))
            self._set_pending(epoch)
        elif msg[0] == R.DELIVER:
            body, auth = self._open(node, msg, R.DELIVER_BODY)
            parsed = R.parse_deliver(body) if body is not None else None
            if parsed is None:
                self.events.append(Event(t, kind, None, node, auth if body is None else "malformed"))
                return
            epoch, active, m1, m2, m3, nonce, floors = parsed
            self._deliver(t, node, auth, epoch, active, m2, floors)
        else:
            self.events.append(Event(t, kind, R.get32(msg, 1) if len(msg) >= 5 else None, node,
                                     "" if kind != "unknown" else "type 0x%02X" % msg[0]))

    def _deliver(self, t, node, auth, epoch, active, m2, floors):
        from keyagent.crypto import she

        k1 = self._she_k1.get(node)
        if k1 is not None and auth == "mac ok" and not self._known(epoch):
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
                self.switch(t, "deliver")
        # The floors say where the counters stand (the joining slave sends
        # its own PDUs from there on): raised to, never lowered below what
        # the observer has verified itself. Not for multi-counter PDUs (an
        # ECU ignores them too: a joining ECU closes its first cycle).
        for index, floor in floors:
            for p in self._pdus:
                if p.cfg.index == index and p.cfg.multi is None:
                    fvm = p.rx.fvm if epoch == self.current else p.rx.alt_fvm if epoch == self.alt else None
                    if fvm is not None and fvm.last < floor:
                        fvm.restart(floor)

    def _to_master(self, t, node, msg):
        from keyagent.rekey import messages as R

        kind = R.NAMES.get(msg[0], "unknown")
        epoch = R.get32(msg, 1) if len(msg) >= 5 else None
        detail = ""
        if msg[0] == R.NACK and len(msg) == 6 + R.MAC_LEN:
            detail = "status %d" % msg[5]
        elif kind == "unknown":
            detail = "type 0x%02X" % msg[0]
        self.events.append(Event(t, kind, epoch, node, detail))
