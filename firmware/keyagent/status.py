# The status line an ECU prints (keyagent.node), and its one parser, for the
# board console (keyagent.board.main), the emulator's MicroPython processes
# and the tests. Counts and epochs only, never keys:
#   status node=1 t=1000 epoch=3 pending=- verified=18 sent=19 unsent=2 rx=93 rejected=mac_mismatch:2
# `-` stands for none (no epoch, no pending epoch, no rejection).
FIELDS = ("node", "t", "epoch", "pending", "verified", "sent", "unsent", "rx", "rejected")


def format_status(values):
    # values: {field: int, None or, for rejected, {reason: count}}
    parts = ["status"]
    for name in FIELDS:
        v = values.get(name)
        if name == "rejected":
            v = ",".join("%s:%d" % r for r in sorted(v.items())) if v else None
        parts.append("%s=%s" % (name, "-" if v is None else v))
    return " ".join(parts)


def parse_status(line):
    # The fields of a status line as format_status took them (ints, None for
    # `-`, rejected as a dict), or None when the line is not a status line.
    if not line.startswith("status "):
        return None
    out = {}
    for item in line.split()[1:]:
        name, eq, text = item.partition("=")
        if not eq:
            return None
        if name == "rejected":
            rejected = {}
            if text != "-":
                for pair in text.split(","):
                    reason, _, n = pair.partition(":")
                    rejected[reason] = int(n)
            out[name] = rejected
        else:
            out[name] = None if text == "-" else int(text)
    return out
