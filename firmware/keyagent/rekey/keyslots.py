# The one owner of an agent's epoch keys (docs/rekey-protocol.md, "Key
# slots"): install, activate, the grace period, retirement and zeroisation,
# and which key each SecOC endpoint uses. Three named slots:
#   current   the keys this ECU sends with (and tries first when receiving)
#   pending   the next epoch, installed and confirmed, not yet activated:
#             receivers accept it (senders that switched early use it)
#   retiring  the previous epoch during grace_ms after a switch: receivers
#             still accept it (frames in flight), then it is zeroised
# A receiver holds two keys, so pending and retiring never coexist: a new
# pending epoch ends the grace period of the retiring one at once.
from keyagent.crypto import kdf
from keyagent.rekey import messages as msgs
from keyagent.crypto.cmac import Cmac


def wipe(buf):
    for i in range(len(buf)):
        buf[i] = 0


class EpochKeys:
    # K_epoch and what the rekey protocol derives from it.
    def __init__(self, epoch, k_epoch, cluster_ids):
        self.epoch = epoch
        self.k_epoch = bytearray(k_epoch)
        # K_mgmt and K_confirm as 16 bytes, each made a CMAC context on
        # first use and kept (K_mgmt checks every beacon): one per epoch,
        # zeroised with the keys, rather than one per message, each of which
        # would leave an AES key schedule in the heap that cryptolib does not
        # let us wipe.
        self._mgmt = msgs.mgmt_key(k_epoch, epoch)
        self._confirm = msgs.confirm_key(k_epoch, epoch)
        self._cmacs = [None, None]
        self.clusters = {}
        for cid in cluster_ids:
            key = kdf.secoc_key(k_epoch, cid, epoch)
            self.clusters[cid] = Cmac(key)
            wipe(key)
        self.frames = 0  # frames sent and verified under these keys
        self.since_ms = 0  # when they were activated

    def mgmt(self):
        return self._cmac(0, self._mgmt)

    def confirm(self):
        return self._cmac(1, self._confirm)

    def _cmac(self, i, key):
        c = self._cmacs[i]
        if c is None:
            c = self._cmacs[i] = Cmac(key)
        return c

    def zeroise(self):
        wipe(self.k_epoch)
        wipe(self._mgmt)
        wipe(self._confirm)
        for c in self._cmacs:
            if c is not None:
                c.zeroise()
        for key in self.clusters.values():
            key.zeroise()


class KeySlots:
    def __init__(self, pdus, cluster_ids, grace_ms, event):
        self.pdus = pdus  # the agent's Pdu objects, whose endpoints we key
        self.cluster_ids = cluster_ids
        self.grace_ms = grace_ms
        self.event = event  # event(now, kind, detail)
        self.current = None
        self.pending = None
        self.retiring = None
        self.retire_at = 0

    def holds(self, epoch):
        # Whether this epoch's keys are current or pending here.
        return (self.current is not None and self.current.epoch == epoch) or \
            (self.pending is not None and self.pending.epoch == epoch)

    def install_pending(self, epoch, k_epoch, now):
        self._drop_alt()
        keys = self.pending = EpochKeys(epoch, k_epoch, self.cluster_ids)
        for pdu in self.pdus:
            if pdu.rx is not None:
                pdu.rx.alt_key, pdu.rx.alt_fvm = keys.clusters[pdu.cluster], pdu.fvm(1)
        self.event(now, "key_installed", epoch)

    def install_current(self, epoch, k_epoch, now, floors=()):
        # A node joining an active epoch: current at once, every counter
        # from its freshness floor; what it held before is zeroised, except
        # a pending newer epoch (it got that one first).
        if self.pending is None or self.pending.epoch <= epoch:
            self._drop_alt()
        keys = EpochKeys(epoch, k_epoch, self.cluster_ids)
        keys.since_ms = now
        floor = {}
        for index, fv in floors:
            floor[index] = fv
        for pdu in self.pdus:
            start = floor.get(pdu.index, 0)
            ep = pdu.tx or pdu.rx
            ep.key, ep.fvm = keys.clusters[pdu.cluster], pdu.fvm(1, start)
            pdu.high_fv = start
        if self.current is not None:
            self.current.zeroise()
        self.current = keys
        self.event(now, "key_installed", epoch)

    def activate(self, now):
        # Pending becomes current; the old current retires after grace_ms.
        keys = self.pending
        if keys is None:
            return False
        self.pending = None
        self.retiring, self.current = self.current, keys
        self.retire_at = now + self.grace_ms
        keys.since_ms = now
        for pdu in self.pdus:
            pdu.high_fv = 0
            if pdu.tx is not None:
                pdu.tx.key, pdu.tx.fvm = keys.clusters[pdu.cluster], pdu.fvm()
            else:
                pdu.rx.swap_keys()
        self.event(now, "epoch_active", keys.epoch)
        return True

    def next_timer(self, now):
        return self.retire_at if self.retiring is not None else now + 3600000

    def poll(self, now):
        if self.retiring is not None and now - self.retire_at >= 0:
            self._drop_alt()

    def zeroise(self):
        self._drop_alt()
        if self.current is not None:
            self.current.zeroise()
            self.current = None

    def _drop_alt(self):
        # The receivers' second key (pending or retiring) goes.
        keys = self.pending or self.retiring
        if keys is None:
            return
        for pdu in self.pdus:
            if pdu.rx is not None:
                pdu.rx.alt_key = pdu.rx.alt_fvm = None
        keys.zeroise()
        self.pending = self.retiring = None
