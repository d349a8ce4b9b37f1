# The keys of one epoch: K_epoch and what the rekey protocol derives from it
# (docs/rekey-protocol.md). zeroise() wipes them when the epoch retires.
from keyagent.crypto import kdf
from keyagent.rekey import messages as msgs
from keyagent.crypto.cmac import Cmac


class EpochKeys:
    def __init__(self, epoch, k_epoch, cluster_ids):
        self.epoch = epoch
        self.k_epoch = bytearray(k_epoch)
        # Used once or twice a rekey: kept as 16 bytes, not as CMAC contexts.
        self._mgmt = bytearray(msgs.mgmt_key(k_epoch, epoch))
        self._confirm = bytearray(msgs.confirm_key(k_epoch, epoch))
        self.clusters = {}
        for cid in cluster_ids:
            self.clusters[cid] = Cmac(kdf.secoc_key(k_epoch, cid, epoch))
        self.frames = 0  # frames sent and verified under these keys
        self.since_ms = 0  # when they were activated

    def mgmt(self):
        return Cmac(self._mgmt)

    def confirm(self):
        return Cmac(self._confirm)

    def zeroise(self):
        for buf in (self.k_epoch, self._mgmt, self._confirm):
            for i in range(len(buf)):
                buf[i] = 0
        for key in self.clusters.values():
            key.zeroise()
