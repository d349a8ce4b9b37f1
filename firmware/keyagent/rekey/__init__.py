# The rekey protocol (docs/rekey-protocol.md): messages and key derivation,
# the epoch keys, and the master and slave roles.
