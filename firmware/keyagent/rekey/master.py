# The master's side of the rekey protocol (docs/rekey-protocol.md): take a
# new key from the module, announce it (or deliver it through SHE) to every
# slave, collect their proofs, activate, beacon the current epoch, and answer
# JOINs with the current epoch.
#
# What a forged or replayed frame can cost here is bounded per frame (the
# document's "What an attacker on the bus can do"): at most two CMACs and one
# answer, never a QKD key, a new epoch or a new SHE counter.
from keyagent.rekey import messages as msgs
from keyagent.crypto import she
from keyagent.rekey.ids import ACTIVATE_ID
from keyagent.crypto.cmac import Cmac
from keyagent.rekey.slave import she_uid

_IDLE = 0
_FETCHING = 1  # waiting for the module's new key
_DISTRIBUTING = 2  # waiting for the slaves' proofs
_FAR = 3600000
_ANNOUNCE_TRIES = 5  # then a direct slave gets DELIVER instead
_ACTIVATE_REPEATS = 3
_ACTIVATE_GAP_MS = 20
_KEY_BITS = 256
_PARALLEL = 3  # ISO-TP transfers we send at once (the answers we receive come on top)
_MAX_DELIVERIES = 16  # SHE counters per slave and epoch (the counter's low 4 bits)


class _Slave:
    def __init__(self, spec, join_boot):
        self.node = spec["node"]
        self.auth_key = bytes.fromhex(spec["auth_key"])
        self.has_module = spec.get("module", False)
        # epoch -> [SHE counters spent (the counter's low bits), the
        # she.KeyUpdate whose M1..M3 we send, or None]: two epochs at most.
        self.deliveries = {}
        self.pending_msg = None  # (epoch, nonce, message): the last pending DELIVER, resent as is
        self.join_boot = join_boot  # boot count of the slave's last JOIN answered (persisted)
        self.join_nonce = msgs.NO_NONCE  # the nonce of its last JOIN, echoed in what we send
        self.holds = 0  # the newest epoch the slave proved it holds (ACK or M5)
        self.tries = 0
        self.next_try = 0
        self.by_deliver = False

    def auth(self):
        # A CMAC context costs hundreds of bytes: built per message (they are
        # rare) rather than held for every slave.
        return Cmac(self.auth_key)


class RekeyMaster:
    def __init__(self, agent, config):
        self.agent = agent
        self.storage = agent.storage
        self.slaves = {}
        for spec in config.get("slaves", []):
            boot = self.storage.get("join_boot_%d" % spec["node"], 0) or 0
            self.slaves[spec["node"]] = _Slave(spec, boot)
        self.epoch = self.storage.get("epoch", 0) or 0  # last epoch used
        self.state = _IDLE
        self.request = None  # module request seq while fetching
        self.key_id = None
        self.next_rekey = 0
        self.deadline = 0
        self.activates_left = 0
        self.next_activate = 0
        self.expired_epoch = -1
        self.early_epoch = -1
        self.alarm = False  # the module refused keys at the last try

    def start(self, now):
        self.next_rekey = now  # a new epoch at every start: keys never persist

    # Timers.

    def next_timer(self, now):
        t = self.next_rekey if self.state == _IDLE else _FAR + now
        if self.state == _DISTRIBUTING:
            t = min(t, self.deadline)
            for s in self.slaves.values():
                if s.holds != self.epoch:
                    t = min(t, s.next_try)
        if self.agent.keys.current is not None:
            t = min(t, self.next_activate)
        return t

    def poll(self, now):
        a = self.agent
        cur = a.keys.current
        if cur is not None:
            age = now - cur.since_ms
            life, frames = a.timing["key_lifetime_ms"], a.timing["key_lifetime_frames"]
            if self.early_epoch != cur.epoch and (age * 5 >= life * 4 or cur.frames * 5 >= frames * 4):
                self.early_epoch = cur.epoch  # 80% of its lifetime: replace it now
                self.next_rekey = min(self.next_rekey, now)
            if (age >= life or cur.frames >= frames) and self.expired_epoch != cur.epoch:
                self.expired_epoch = cur.epoch
                a.event(now, "key_expired", cur.epoch)
        if self.state == _IDLE and now >= self.next_rekey:
            self._fetch(now)
        if self.state == _DISTRIBUTING:
            done = True
            for s in self.slaves.values():
                if s.holds != self.epoch:
                    done = False
                    # A few transfers at a time: each holds ISO-TP buffers,
                    # and RAM is what a gateway MCU lacks. Only our own
                    # sending counts: a peer (or a forger) opening receive
                    # channels cannot hold our transfers back.
                    if now >= s.next_try and a.sends_in_use() < _PARALLEL:
                        self._send_next(s, now)
            if done or now >= self.deadline:
                self._activate(now)
        if cur is not None and now >= self.next_activate:
            self._send_activate(now)

    # The steps of a rekey.

    def _fetch(self, now):
        a = self.agent
        if a.module is None:
            a.event(now, "no_module")
            self.next_rekey = now + a.timing["rekey_period_ms"]
            return
        self.request = a.module.get_new_key(now, _KEY_BITS)
        self.state = _FETCHING

    def on_key(self, result, now):
        a = self.agent
        if self.state != _FETCHING or result.seq != self.request:
            return
        key = result.key
        if result.status == 0 and (key is None or len(key) != _KEY_BITS // 8):
            a.count("qkd_bad_key")  # a module bug: not usable, and no epoch spent
            if key is not None:
                msgs.wipe(key)
            key = None
        if result.status != 0 or key is None:
            # An eavesdropper (alarm) or an empty pool: keep the current key
            # and try again; never fall back to an unauthenticated bus.
            if not self.alarm:  # one event per episode, not per retry
                self.alarm = True
                a.event(now, "qkd_alarm" if result.status == 4 else "qkd_key_unavailable", result.status)
            self.state = _IDLE
            self.next_rekey = now + a.timing["retry_ms"]
            return
        if self.alarm:
            self.alarm = False
            a.event(now, "qkd_keys_again")
        epoch = self.epoch + 1
        k_epoch = msgs.epoch_key(key, epoch)
        msgs.wipe(key)
        self.epoch = epoch
        self.storage.put("epoch", epoch)  # before any use of the key
        self.key_id = bytes(result.key_id)
        a.keys.install_pending(epoch, k_epoch, now)
        msgs.wipe(k_epoch)
        a.event(now, "epoch_announced", epoch)
        self.state = _DISTRIBUTING
        self.deadline = now + a.timing["activate_deadline_ms"]
        for s in self.slaves.values():
            s.tries = 0
            s.by_deliver = not s.has_module
            s.next_try = now
        self.poll(now)

    def _send_next(self, s, now):
        if not s.by_deliver and s.tries >= _ANNOUNCE_TRIES:
            s.by_deliver = True
        self._send_pending(s, now)
        s.tries += 1
        s.next_try = now + self.agent.timing["retry_ms"]

    def _send_pending(self, s, now):
        # ANNOUNCE, or the pending DELIVER: the same message again as long
        # as the nonce stays, so that an answer to an earlier copy still fits.
        a = self.agent
        if s.by_deliver:
            sent = s.pending_msg
            if sent is None or sent[0] != self.epoch or sent[1] != s.join_nonce:
                msg = self._deliver(s, a.keys.pending, False, s.join_nonce, now)
                sent = s.pending_msg = (self.epoch, s.join_nonce, msg) if msg is not None else None
            if sent is not None:
                a.unicast(s.node, sent[2], now)
        else:
            a.unicast(s.node, msgs.announce(s.auth(), s.node, self.epoch, self.key_id, s.join_nonce), now)

    def _update(self, s, keys, now):
        # The SHE update that carries keys.epoch to s: one counter per epoch
        # and slave, reused until the slave reboots (see _join).
        entry = s.deliveries.get(keys.epoch)
        if entry is not None and entry[1] is not None:
            return entry[1]
        sent = entry[0] if entry is not None else 0
        if sent >= _MAX_DELIVERIES:
            self.agent.event(now, "redelivery_limit", s.node)
            self.next_rekey = now  # a fresh epoch resets the count
            return None
        for epoch in list(s.deliveries):
            if epoch < keys.epoch - 1:
                del s.deliveries[epoch]  # only the current and the next matter
        u = she.KeyUpdate(she_uid(s.node), she.KEY_1, she.MASTER_ECU_KEY, s.auth_key,
                          keys.k_epoch, (keys.epoch << 4) | sent, 0)
        s.deliveries[keys.epoch] = [sent + 1, u]
        return u

    def _deliver(self, s, keys, active, nonce, now):
        # A DELIVER of keys to s: pending, or (answering a JOIN) active with
        # the freshness floors as they are now.
        a = self.agent
        u = self._update(s, keys, now)
        if u is None:
            return None
        floors = []
        if active:
            # The joining slave accepts only values above what we have seen,
            # and sends its own PDUs from a little above it: a margin for its
            # frames we missed, within what receivers rebuild from the
            # truncated bits (half their window).
            for pdu in a.pdus:
                margin = 0
                if pdu.sender == s.node and pdu.layout.tx_fv_bits:
                    margin = 1 << (pdu.layout.tx_fv_bits - 1)
                floors.append((pdu.index, pdu.high_fv + margin))
        return msgs.deliver(s.auth(), s.node, keys.epoch, active, nonce, u.m1, u.m2, u.m3, floors)

    def _activate(self, now):
        a = self.agent
        self.state = _IDLE
        a.keys.activate(now)
        self.activates_left = _ACTIVATE_REPEATS
        self._send_activate(now)
        missing = [s.node for s in self.slaves.values() if s.holds != self.epoch]
        if missing:
            a.event(now, "activated_without", missing)
        self.next_rekey = now + a.timing["rekey_period_ms"]

    def _send_activate(self, now):
        # Three times at the switch, then once every retry_ms for as long as
        # the epoch lasts: the beacon that tells a slave which missed the
        # switch (deafened, rebooted, replayed to) to JOIN.
        keys = self.agent.keys.current
        frame = bytearray(8)
        msgs.activate(keys.mgmt(), keys.epoch, frame)
        self.agent.broadcast(ACTIVATE_ID, frame)
        if self.activates_left:
            self.activates_left -= 1
        self.next_activate = now + (_ACTIVATE_GAP_MS if self.activates_left else self.agent.timing["retry_ms"])

    # What the slaves send.

    def on_message(self, node, msg, now):
        a = self.agent
        s = self.slaves.get(node)
        if s is None or not msg:
            a.count("rekey_unexpected")
            return
        t = msg[0]
        if t == msgs.JOIN:
            self._join(s, msg, now)
            return
        epoch = msgs.get32(msg, 1) if len(msg) >= 5 else -1
        keys = a.keys.pending if epoch == self.epoch and a.keys.pending is not None else a.keys.current
        if epoch == s.holds and t in (msgs.ACK, msgs.DELIVERED):
            return  # a repeat of a proof we have (our message crossed it): no news
        if keys is None or epoch != keys.epoch or epoch < s.holds:
            a.count("rekey_stale")  # an old epoch
            return
        if t == msgs.ACK:
            if msgs.check_ack(keys.confirm(), node, msg):
                self._holds(s, epoch, now)
            else:
                a.count("rekey_bad_mac")
        elif t == msgs.NACK:
            body = msgs.open_sealed(s.auth(), node, msg, 6)
            if body is None or len(body) != 6:
                a.count("rekey_bad_mac")
                return
            if keys is a.keys.pending and not s.by_deliver:
                a.event(now, "slave_no_key", (node, body[5]))
                s.by_deliver = True
                s.next_try = now
        elif t == msgs.DELIVERED:
            entry = s.deliveries.get(epoch)
            u = entry[1] if entry is not None else None
            if u is not None and len(msg) == msgs.DELIVERED_LEN and u.check_m5(msg[5:21]):
                self._holds(s, epoch, now)
            else:
                a.count("rekey_bad_mac")
        else:
            a.count("rekey_unexpected")

    def _holds(self, s, epoch, now):
        s.holds = epoch
        if self.state == _DISTRIBUTING:
            self.poll(now)  # the last proof activates at once

    def _join(self, s, msg, now):
        a = self.agent
        body = msgs.open_sealed(s.auth(), s.node, msg, msgs.JOIN_BODY)
        if body is None or len(body) != msgs.JOIN_BODY:
            a.count("rekey_bad_mac")
            return
        boot = msgs.get32(body, 5)
        if boot < s.join_boot:
            a.count("rekey_stale")  # a JOIN from an earlier boot: a replay
            return
        if boot > s.join_boot:
            # A new boot: the slave lost its keys and may hold a higher SHE
            # counter than our updates carry; a replay of this JOIN later
            # (same boot) costs no new counter.
            s.join_boot = boot
            self.storage.put("join_boot_%d" % s.node, boot)
            for entry in s.deliveries.values():
                entry[1] = None
            s.holds = 0
            s.pending_msg = None
            s.tries = 0
            s.next_try = now
            a.event(now, "slave_join", s.node)
        s.join_nonce = body[9:17]
        cur = a.keys.current
        if cur is not None:
            msg = self._deliver(s, cur, True, s.join_nonce, now)
            if msg is not None:
                a.unicast(s.node, msg, now)
        if self.state == _DISTRIBUTING and s.holds != self.epoch:
            # The rekey under way, with this nonce, at once: a slave that
            # has not joined since it booted ignored what it got before.
            # Not counted as a try: a replayed JOIN must not make us give
            # up on ANNOUNCE and spend a SHE counter.
            self._send_pending(s, now)

    def on_activate(self, frame, now):
        self.agent.count("rekey_unexpected")  # only the master sends ACTIVATE

    def on_implicit_activation(self, now):
        pass  # the master decides when to activate
