# The keys of one epoch: K_epoch and what the rekey protocol derives from it
# (docs/rekey-protocol.md). zeroise() wipes them when the epoch retires.
from keyagent import kdf, rekey_msgs as msgs
from keyagent.cmac import Cmac


class EpochKeys:
    def __init__(self, epoch, k_epoch, cluster_ids):
        self.epoch = epoch
        self.k_epoch = bytearray(k_epoch)
        self.mgmt = Cmac(msgs.mgmt_key(k_epoch, epoch))
        self.confirm = Cmac(msgs.confirm_key(k_epoch, epoch))
        self.clusters = {}
        for cid in cluster_ids:
            self.clusters[cid] = Cmac(kdf.secoc_key(k_epoch, cid, epoch))
        self.frames = 0  # frames sent and verified under these keys
        self.since_ms = 0  # when they were activated

    def zeroise(self):
        for i in range(len(self.k_epoch)):
            self.k_epoch[i] = 0
        self.mgmt.zeroise()
        self.confirm.zeroise()
        for key in self.clusters.values():
            key.zeroise()
