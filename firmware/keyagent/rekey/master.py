# The master's side of the rekey protocol (docs/rekey-protocol.md): take a
# new key from the module, announce it (or deliver it through SHE) to every
# slave, collect their proofs, activate, and answer JOINs with the current
# epoch.
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
_PARALLEL = 4  # ISO-TP transfers under way at once


class _Slave:
    def __init__(self, spec):
        self.node = spec["node"]
        self.auth_key = bytes.fromhex(spec["auth_key"])
        self.has_module = spec.get("module", False)
        self.uid = she_uid(self.node)
        self.deliveries = {}  # epoch -> DELIVERs sent (the SHE counter's low bits)
        self.update = None  # the she.KeyUpdate awaiting M4/M5
        self.sent_deliver = None  # (epoch, active, message) last DELIVER sent
        self.join_boot = -1  # boot count of the slave's last JOIN answered
        self.confirmed = False
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
            self.slaves[spec["node"]] = _Slave(spec)
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
                if not s.confirmed:
                    t = min(t, s.next_try)
        if self.activates_left:
            t = min(t, self.next_activate)
        return t

    def poll(self, now):
        a = self.agent
        cur = a.current
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
                if not s.confirmed:
                    done = False
                    # A few slaves at a time: each transfer holds ISO-TP
                    # buffers, and RAM is what a gateway MCU lacks.
                    if now >= s.next_try and a.channels_in_use() < _PARALLEL:
                        self._send_next(s, now)
            if done or now >= self.deadline:
                self._activate(now)
        if self.activates_left and now >= self.next_activate:
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
        if result.status != 0 or result.key is None:
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
        self.epoch += 1
        self.storage.put("epoch", self.epoch)
        k_epoch = msgs.epoch_key(result.key, self.epoch)
        for i in range(len(result.key)):
            result.key[i] = 0
        self.key_id = bytes(result.key_id)
        a.keys.install_pending(self.epoch, k_epoch, now)
        a.event(now, "epoch_announced", self.epoch)
        self.state = _DISTRIBUTING
        self.deadline = now + a.timing["activate_deadline_ms"]
        for s in self.slaves.values():
            s.confirmed = False
            s.tries = 0
            s.by_deliver = not s.has_module
            s.next_try = now
        self.poll(now)

    def _send_next(self, s, now):
        a = self.agent
        if not s.by_deliver and s.tries >= _ANNOUNCE_TRIES:
            s.by_deliver = True
        if s.by_deliver:
            sent = s.sent_deliver
            if sent is not None and sent[0] == a.keys.pending.epoch and not sent[1]:
                a.unicast(s.node, sent[2], now)  # the same message: its answer still fits
            else:
                self._deliver(s, a.keys.pending, False, now)
        else:
            a.unicast(s.node, msgs.announce(s.auth(), s.node, self.epoch, self.key_id), now)
        s.tries += 1
        s.next_try = now + a.timing["retry_ms"]

    def _deliver(self, s, keys, active, now):
        a = self.agent
        sent = s.deliveries.get(keys.epoch, 0)
        if sent > 15:
            a.event(now, "redelivery_limit", s.node)
            self.next_rekey = now  # a fresh epoch resets the count
            return
        for epoch in list(s.deliveries):
            if epoch < keys.epoch - 1:
                del s.deliveries[epoch]  # only the current and the next matter
        s.deliveries[keys.epoch] = sent + 1
        counter = (keys.epoch << 4) | sent
        s.update = she.KeyUpdate(s.uid, she.KEY_1, she.MASTER_ECU_KEY, s.auth_key,
                                 bytes(keys.k_epoch), counter, 0)
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
        msg = msgs.deliver(s.auth(), s.node, keys.epoch, active, s.update.m1, s.update.m2,
                           s.update.m3, floors)
        s.sent_deliver = (keys.epoch, active, msg)
        a.unicast(s.node, msg, now)

    def _activate(self, now):
        a = self.agent
        self.state = _IDLE
        self.activates_left = _ACTIVATE_REPEATS
        a.keys.activate(now)
        self._send_activate(now)
        missing = [s.node for s in self.slaves.values() if not s.confirmed]
        if missing:
            a.event(now, "activated_without", missing)
        self.next_rekey = now + a.timing["rekey_period_ms"]

    def _send_activate(self, now):
        keys = self.agent.keys.current
        frame = bytearray(8)
        msgs.activate(keys.mgmt(), keys.epoch, frame)
        self.agent.broadcast(ACTIVATE_ID, frame)
        self.activates_left -= 1
        self.next_activate = now + _ACTIVATE_GAP_MS

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
        if self.state != _DISTRIBUTING or len(msg) < 5 or msgs.get32(msg, 1) != self.epoch:
            a.count("rekey_stale")
            return
        if t == msgs.ACK:
            if msgs.check_ack(a.keys.pending.confirm(), node, msg):
                self._confirmed(s, now)
            else:
                a.count("rekey_bad_mac")
        elif t == msgs.NACK:
            body = msgs.open_sealed(s.auth(), node, msg, 6)
            if body is None or len(body) != 6:
                a.count("rekey_bad_mac")
                return
            a.event(now, "slave_no_key", (node, body[5]))
            s.by_deliver = True
            s.next_try = now
        elif t == msgs.DELIVERED:
            if s.update is not None and len(msg) == 53 \
                    and s.update.check_response(msg[5:37], msg[37:53]) == she.RESP_OK:
                self._confirmed(s, now)
            else:
                a.count("rekey_bad_mac")
        else:
            a.count("rekey_unexpected")

    def _confirmed(self, s, now):
        s.confirmed = True
        self.poll(now)  # the last proof activates at once

    def _join(self, s, msg, now):
        a = self.agent
        body = msgs.open_sealed(s.auth(), s.node, msg, 9)
        if body is None or len(body) != 9:
            a.count("rekey_bad_mac")
            return
        boot = msgs.get32(body, 5)
        if boot < s.join_boot:
            a.count("rekey_stale")  # a JOIN from an earlier boot: a replay
            return
        sent = s.sent_deliver
        if boot == s.join_boot and sent is not None and a.current is not None \
                and sent[0] == a.current.epoch and sent[1]:
            # The same boot asking again (our DELIVER was lost): the same
            # message again, so a replayed JOIN costs no new SHE counter.
            a.unicast(s.node, sent[2], now)
            return
        s.join_boot = boot
        a.event(now, "slave_join", s.node)
        if a.current is not None:
            self._deliver(s, a.current, True, now)
        if self.state == _DISTRIBUTING and s.confirmed and msgs.get32(body, 1) < self.epoch:
            s.confirmed = False  # it lost the pending key too: send it again
            s.tries = 0
            s.next_try = now

    def on_activate(self, frame, now):
        self.agent.count("rekey_unexpected")  # only the master sends ACTIVATE

    def on_implicit_activation(self, now):
        pass  # the master decides when to activate
