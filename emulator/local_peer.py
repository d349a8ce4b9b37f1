# Who is at the other end of a TCP connection on 127.0.0.1: the user ID of
# the local process that owns the client socket, read from Linux's
# /proc/net/tcp (the socket table: local and remote address, uid). The
# module's UART ends use it to take only clients of the user that runs the
# emulator; other local users cannot open an end and fetch keys.
import os
import socket
import struct

PROC_NET_TCP = "/proc/net/tcp"


def _hex_address(address):
    # /proc/net/tcp writes an IPv4 address as the 32-bit word in host byte
    # order, in hex, then the port in hex.
    ip = struct.unpack("=I", socket.inet_aton(address[0]))[0]
    return "%08X:%04X" % (ip, address[1])


def peer_uid(conn, table=None):
    """The uid owning the client end of `conn` (an accepted IPv4 socket),
    or None if the socket table does not say (not Linux, entry gone)."""
    try:
        peer, me = _hex_address(conn.getpeername()), _hex_address(conn.getsockname())
        if table is None:
            with open(PROC_NET_TCP) as f:
                table = f.read()
    except OSError:
        return None
    for line in table.splitlines()[1:]:
        fields = line.split()
        if len(fields) > 7 and fields[1] == peer and fields[2] == me:
            return int(fields[7])
    return None


def same_user(conn):
    """False only when the client is known to run as another user."""
    uid = peer_uid(conn)
    return uid is None or uid == os.getuid()
