# The slave's side of the rekey protocol (docs/rekey-protocol.md): answer
# ANNOUNCE by fetching the key by ID from our own module, take DELIVER
# through the SHE key update protocol, switch on ACTIVATE, and JOIN whenever
# we have no active key (start-up, reboot, a missed rekey).
from keyagent.rekey import messages as msgs
from keyagent.crypto import she
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
        self.waiting = None  # (epoch, module request seq) for an ANNOUNCE
        self.answer = None  # (epoch, message) last ACK/DELIVERED, to repeat
        self.next_join = 0

    def start(self, now):
        self.next_join = now

    def poll(self, now):
        a = self.agent
        if a.keys.current is None and a.keys.pending is None and now >= self.next_join:
            a.unicast(0, msgs.join(self.auth, self.node, self.epoch, self.boot), now)
            self.next_join = now + a.timing["join_retry_ms"]

    def next_timer(self, now):
        return self.next_join if self.agent.current is None else now + 3600000

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
        body = msgs.open_sealed(self.auth, self.node, msg, 21)
        if body is None or len(body) != 21:
            a.count("rekey_bad_mac")
            return
        epoch = msgs.get32(body, 1)
        if self.answer is not None and self.answer[0] == epoch:
            a.unicast(0, self.answer[1], now)  # our answer was lost: repeat it
            return
        if epoch <= self.epoch or (self.waiting is not None and self.waiting[0] == epoch):
            if self.waiting is None:
                a.count("rekey_stale")
            return  # still waiting for our module: the answer will come
        if not self.has_module or a.module is None:
            a.unicast(0, msgs.nack(self.auth, self.node, epoch, _STATUS_NO_MODULE), now)
            return
        self.waiting = (epoch, a.module.get_key_by_id(now, bytes(body[5:21])))

    def on_key(self, result, now):
        a = self.agent
        if self.waiting is None or result.seq != self.waiting[1]:
            return
        epoch = self.waiting[0]
        self.waiting = None
        if result.status != 0 or result.key is None:
            a.event(now, "qkd_key_unavailable", result.status)
            a.unicast(0, msgs.nack(self.auth, self.node, epoch, result.status), now)
            return
        k_epoch = msgs.epoch_key(result.key, epoch)
        for i in range(len(result.key)):
            result.key[i] = 0
        self._loaded(epoch, k_epoch, False, now)
        self._answer(epoch, msgs.ack(a.keys.pending.confirm(), self.node, epoch), now)

    def _deliver(self, msg, now):
        a = self.agent
        body = msgs.open_sealed(self.auth, self.node, msg, 71)
        parsed = msgs.parse_deliver(body) if body is not None else None
        if parsed is None:
            a.count("rekey_bad_mac")
            return
        epoch, active, m1, m2, m3, floors = parsed
        if epoch < self.epoch or (epoch == self.epoch and not active):
            if self.answer is not None and self.answer[0] == epoch:
                a.unicast(0, self.answer[1], now)
            else:
                a.count("rekey_stale")
            return
        erc, m4, m5 = self.she.load_key(m1, m2, m3)
        if erc != she.ERC_NO_ERROR:
            a.count("she_refused")
            return
        self.storage.put("she_counter", self.she.counter(she.KEY_1))
        self._loaded(epoch, self.she.key(she.KEY_1), active, now, floors)
        self._answer(epoch, msgs.delivered(epoch, m4, m5), now)

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
        a = self.agent
        if len(frame) != 8:
            a.count("rekey_bad_activate")
            return
        pending = a.keys.pending
        if pending is not None and msgs.check_activate(pending.mgmt(), frame, len(frame)) \
                and msgs.get32(frame, 1) == pending.epoch:
            a.keys.activate(now)
        elif a.current is None or msgs.get32(frame, 1) != a.current.epoch:
            a.count("rekey_unknown_activate")  # repeats of one we took are fine

    def on_implicit_activation(self, now):
        self.agent.keys.activate(now)
