# The emulated module pair's exception tree. Every error a module can report
# to its host carries the status code of ETSI GS QKD 004 V2.1.1 (section
# 6.1, "status" of the QKD application interface), so the UART protocol and
# the ETSI 014 REST server can map them 1:1:
#
#   QkdError                      base; .status is the 004 code
#   ├── InsufficientKey        2  not enough key material in the pool
#   │   └── KeyNotFound        2  no key under that ID for this side (unknown,
#   │                             or already handed out to it)
#   ├── PeerNotConnected       3  the other module (or its host) is not connected
#   ├── NoQkdConnection        4  no working quantum link: alarm, link down
#   │   ├── LinkAlarm          4  QBER above the abort threshold (eavesdropper)
#   │   └── ModuleUnplugged    4  this module is unplugged (fault injection)
#   ├── KsidInUse              5  OPEN_CONNECT with a key stream ID already open
#   ├── QkdTimeout             6  the call timed out
#   ├── QosNotMet              7  requested QoS (key size, count) not possible
#   │   └── KeySizeNotSupported 7 size not a multiple of 8 or out of range
#   └── MetadataTooSmall       8  metadata buffer too small for the reply
#
# Successful calls have status 0 (SUCCESS); 1 (connected, peer not yet
# connected) is a success code for OPEN_CONNECT and has no exception.
SUCCESS = 0
PEER_NOT_CONNECTED_YET = 1


class QkdError(Exception):
    """A module refused a request; `status` is its ETSI GS QKD 004 code."""

    status = None


class InsufficientKey(QkdError):
    status = 2


class KeyNotFound(InsufficientKey):
    status = 2


class PeerNotConnected(QkdError):
    status = 3


class NoQkdConnection(QkdError):
    status = 4


class LinkAlarm(NoQkdConnection):
    status = 4


class ModuleUnplugged(NoQkdConnection):
    status = 4


class KsidInUse(QkdError):
    status = 5


class QkdTimeout(QkdError):
    status = 6


class QosNotMet(QkdError):
    status = 7


class KeySizeNotSupported(QosNotMet):
    status = 7


class MetadataTooSmall(QkdError):
    status = 8


# status code -> the exception class a receiver raises for it (the UART client
# side can turn a received code back into the same exception).
BY_STATUS = {
    2: InsufficientKey,
    3: PeerNotConnected,
    4: NoQkdConnection,
    5: KsidInUse,
    6: QkdTimeout,
    7: QosNotMet,
    8: MetadataTooSmall,
}
