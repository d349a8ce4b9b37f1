# The slave's side of the rekey protocol (docs/rekey-protocol.md): answer
# ANNOUNCE by fetching the key by ID from our own module, take DELIVER
# through the SHE key update protocol, switch on ACTIVATE, and JOIN with a
# fresh nonce at every start and whenever the master's beacon names an epoch
# newer than ours (a missed rekey, a replayed old one).
#
# Until a master's message echoes the nonce of this boot's JOIN the slave
# trusts nothing it hears (no persisted state proves anything fresh), and it
# never re-installs an epoch it holds.
from keyagent.rekey import messages as msgs
from keyagent.crypto import she
from keyagent.crypto.bufops import ct_equal
from keyagent.crypto.cmac import Cmac
from keyagent.crypto.she_store import SheKeyStore

_STATUS_NO_MODULE = 4  # ETSI 004 "no QKD connection": we have no module


def she_uid(node):
    # The SHE UID of a node: 120 bits, the node number in the last byte.
    return bytes(14) + bytes((node,))


class RekeySlave:
    def __init__(self, agent, config):
        self.agent = agent
        self.node = agent.node
        self.storage = agent.storage
        auth_key = bytes.fromhex(config["auth_key"])
        self.auth = Cmac(auth_key)
        self.has_module = config.get("module", False)
        self.epoch = self.storage.get("epoch", 0) or 0  # last epoch loaded
        self.she = SheKeyStore(she_uid(self.node))
        self.she.provision(she.MASTER_ECU_KEY, auth_key)
        # The slot's counter survives reboots, as in a SHE's NVM, so an old
        # DELIVER can never be loaded again. The slot's key stays zero until
        # a real one is loaded.
        self.she.provision(she.KEY_1, bytes(16), self.storage.get("she_counter", 0) or 0)
        # Counted at every start and persisted: JOINs of this boot carry it.
        self.boot = (self.storage.get("joins", 0) or 0) + 1
        self.storage.put("joins", self.boot)
        self.synced = False  # a message echoing our nonce came this boot
        self.nonce = agent.rand(msgs.NONCE_LEN)  # while joining, else None
        self.waiting = None  # (epoch, module request seq) for an ANNOUNCE
        self.answer = None  # (epoch, message) last ACK/DELIVERED, to repeat
        self.next_join = 0
        self.last_join = -3600000

    def start(self, now):
        self.next_join = now

    def poll(self, now):
        if self.nonce is not None and now >= self.next_join:
            a = self.agent
            a.unicast(0, msgs.join(self.auth, self.node, self.epoch, self.boot, self.nonce), now)
            self.last_join = now
            self.next_join = now + a.timing["join_retry_ms"]

    def next_timer(self, now):
        return self.next_join if self.nonce is not None else now + 3600000

    def _rejoin(self):
        # The master is on an epoch we do not have: JOIN (at once, unless we
        # sent one less than join_retry_ms ago, so forgeries cannot make us
        # flood).
        if self.nonce is None:
            self.nonce = self.agent.rand(msgs.NONCE_LEN)

    def _joined(self):
        self.synced = True
        if self.agent.keys.current is not None:
            self.nonce = None

    def _not_joined(self, nonce, now):
        # Before our JOIN is answered. NO_NONCE: the master has not heard
        # our JOIN yet (its ANNOUNCE overtook it, or the JOIN was lost), not
        # a rejection; any other nonce answers an older JOIN: a replay,
        # counted. Either way the master is there: JOIN again soon, though
        # not more than once a retry_ms.
        if not ct_equal(nonce, msgs.NO_NONCE, msgs.NONCE_LEN):
            self.agent.count("rekey_not_joined")
        soon = self.last_join + self.agent.timing["retry_ms"]
        self.next_join = min(self.next_join, max(soon, now))

    def _fresh(self, nonce):
        return self.nonce is not None and ct_equal(nonce, self.nonce, msgs.NONCE_LEN)

    def on_message(self, node, msg, now):
        if node != self.node or not msg:
            return
        t = msg[0]
        if t == msgs.ANNOUNCE:
            self._announce(msg, now)
        elif t == msgs.DELIVER:
            self._deliver(msg, now)
        else:
            self.agent.count("rekey_unexpected")

    def _announce(self, msg, now):
        a = self.agent
        body = msgs.open_sealed(self.auth, self.node, msg, msgs.ANNOUNCE_BODY)
        parsed = msgs.parse_announce(body) if body is not None else None
        if parsed is None:
            a.count("rekey_bad_mac")
            return
        epoch, key_id, nonce = parsed
        if not self.synced and not self._fresh(nonce):
            self._not_joined(nonce, now)
            return
        if self.answer is not None and self.answer[0] == epoch:
            a.unicast(0, self.answer[1], now)  # our answer was lost: repeat it
            return
        if epoch <= self.epoch or a.keys.holds(epoch) or (self.waiting is not None and self.waiting[0] == epoch):
            if self.waiting is None:
                a.count("rekey_stale")
            return  # still waiting for our module: the answer will come
        if not self.has_module or a.module is None:
            a.unicast(0, msgs.nack(self.auth, self.node, epoch, _STATUS_NO_MODULE), now)
            return
        self.synced = True
        self.waiting = (epoch, a.module.get_key_by_id(now, bytes(key_id)))

    def on_key(self, result, now):
        a = self.agent
        if self.waiting is None or result.seq != self.waiting[1]:
            return
        epoch = self.waiting[0]
        self.waiting = None
        status = result.status
        if status == 0 and (result.key is None or len(result.key) not in (16, 32)):
            a.count("qkd_bad_key")  # a module bug: answered as no key
            status = 2
        if status != 0:
            if result.key is not None:
                msgs.wipe(result.key)
            a.event(now, "qkd_key_unavailable", status)
            a.unicast(0, msgs.nack(self.auth, self.node, epoch, status), now)
            return
        k_epoch = msgs.epoch_key(result.key, epoch)
        msgs.wipe(result.key)
        self._loaded(epoch, k_epoch, False, now)
        msgs.wipe(k_epoch)
        self._answer(epoch, msgs.ack(a.keys.pending.confirm(), self.node, epoch), now)

    def _deliver(self, msg, now):
        a = self.agent
        keys = a.keys
        body = msgs.open_sealed(self.auth, self.node, msg, msgs.DELIVER_BODY)
        parsed = msgs.parse_deliver(body) if body is not None else None
        if parsed is None:
            a.count("rekey_bad_mac")
            return
        epoch, active, m1, m2, m3, nonce, floors = parsed
        fresh = self._fresh(nonce)
        if (active or not self.synced) and not fresh:
            # An active epoch only as the answer to our JOIN; nothing at all
            # before a first answer: a recorded DELIVER cannot roll us back.
            if self.synced:
                a.count("rekey_stale")
            else:
                self._not_joined(nonce, now)
            return
        if keys.holds(epoch):
            # Never re-installed (its freshness state would restart): a
            # JOIN's answer for the epoch we are on, or a missed ACTIVATE.
            if active:
                if keys.current.epoch != epoch:
                    keys.activate(now)
                self._joined()
            if self.answer is not None and self.answer[0] == epoch:
                a.unicast(0, self.answer[1], now)
            else:
                conf = keys.current if keys.current.epoch == epoch else keys.pending
                self._answer(epoch, msgs.ack(conf.confirm(), self.node, epoch), now)
            return
        cur = keys.current
        if epoch < self.epoch or (cur is not None and epoch < cur.epoch) or (not active and epoch == self.epoch):
            a.count("rekey_stale")
            return
        erc, _, m5 = self.she.load_key(m1, m2, m3)
        if erc != she.ERC_NO_ERROR:
            a.count("she_refused")
            return
        self.storage.put("she_counter", self.she.counter(she.KEY_1))
        self._loaded(epoch, self.she.key(she.KEY_1), active, now, floors)
        if active or fresh:
            self._joined()
        self._answer(epoch, msgs.delivered(epoch, m5), now)

    def _loaded(self, epoch, k_epoch, active, now, floors=()):
        self.epoch = epoch
        self.storage.put("epoch", epoch)
        if active:
            self.agent.keys.install_current(epoch, k_epoch, now, floors)
        else:
            self.agent.keys.install_pending(epoch, k_epoch, now)

    def _answer(self, epoch, msg, now):
        self.answer = (epoch, msg)
        self.agent.unicast(0, msg, now)

    def on_activate(self, frame, now):
        # ACTIVATE: the switch, and later the master's beacon of its epoch.
        a = self.agent
        if len(frame) != 8 or frame[0] != msgs.ACTIVATE:
            a.count("rekey_bad_activate")
            return
        epoch = msgs.get32(frame, 1)
        pending, cur = a.keys.pending, a.keys.current
        if cur is not None and epoch == cur.epoch:
            return  # repeats and beacons of the epoch we are on
        if pending is not None and epoch == pending.epoch:
            if msgs.check_activate(pending.mgmt(), frame, len(frame)):
                a.keys.activate(now)
                self._joined()
            else:
                a.count("rekey_bad_activate")
            return
        a.count("rekey_unknown_activate")
        newest = pending.epoch if pending is not None else (cur.epoch if cur is not None else -1)
        if epoch > newest:
            self._rejoin()  # we missed a rekey (or it is forged: the JOIN tells)

    def on_implicit_activation(self, now):
        self.agent.keys.activate(now)
        self._joined()
