# The rekey protocol's CAN identifiers (docs/rekey-protocol.md, "Frames"):
# the ACTIVATE broadcast and one ISO-TP channel pair per slave node.
from keyagent.compat import const

ACTIVATE_ID = const(0x6F0)
M2S_BASE = const(0x700)  # master to slave `node`: 0x700 + node
S2M_BASE = const(0x740)  # slave `node` to master: 0x740 + node


def to_slave_id(node):
    return M2S_BASE + node


def to_master_id(node):
    return S2M_BASE + node
