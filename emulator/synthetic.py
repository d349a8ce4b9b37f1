# Synthetic vehicles of any size, for benchmarks and load tests: a DBC with
# one Profile 1 classic-CAN message per ECU (4-byte authentic PDU, 8 FV
# bits, 24 MAC bits), received by the gateway and the next ECU, and the
# scenario that runs it.

_HEADER = '''VERSION "qkd-secoc synthetic %(n)d"

NS_ :
	CM_
	BA_DEF_
	BA_
	BA_DEF_DEF_

BS_:

BU_: %(nodes)s

'''

_MESSAGE = '''BO_ %(id)d Msg%(i)02d: 8 %(sender)s
 SG_ Value%(i)02d : 0|16@1+ (1,0) [0|65535] "" %(receivers)s
 SG_ Counter%(i)02d : 16|16@1+ (1,0) [0|65535] "" %(receivers)s
 SG_ Msg%(i)02d_FV : 39|8@0+ (1,0) [0|255] "" %(receivers)s
 SG_ Msg%(i)02d_MAC : 47|24@0+ (1,0) [0|16777215] "" %(receivers)s

'''

_ATTRIBUTES = '''BA_DEF_ BO_  "GenMsgCycleTime" INT 0 65535;
BA_DEF_ BO_  "SecOC_DataID" INT 0 65535;
BA_DEF_ BO_  "SecOC_Profile" INT 0 3;
BA_DEF_ BO_  "SecOC_AuthenticBytes" INT 0 64;
BA_DEF_ BO_  "SecOC_FvBits" INT 0 64;
BA_DEF_ BO_  "SecOC_MacBits" INT 0 128;
BA_DEF_DEF_  "GenMsgCycleTime" 0;
BA_DEF_DEF_  "SecOC_DataID" 0;
BA_DEF_DEF_  "SecOC_Profile" 0;
BA_DEF_DEF_  "SecOC_AuthenticBytes" 0;
BA_DEF_DEF_  "SecOC_FvBits" 0;
BA_DEF_DEF_  "SecOC_MacBits" 0;
'''


def ecu_name(i):
    return "GATEWAY" if i == 0 else "ECU%02d" % i


def dbc_text(n_ecus, period_ms):
    nodes = [ecu_name(i) for i in range(n_ecus)]
    out = [_HEADER % {"n": n_ecus, "nodes": " ".join(nodes)}]
    for i in range(1, n_ecus):
        receivers = ["GATEWAY"] + ([ecu_name(i % (n_ecus - 1) + 1)] if n_ecus > 2 else [])
        out.append(_MESSAGE % {"id": 0x100 + i, "i": i, "sender": ecu_name(i),
                               "receivers": ",".join(receivers)})
    out.append(_ATTRIBUTES)
    for i in range(1, n_ecus):
        mid = 0x100 + i
        for name, value in (("GenMsgCycleTime", period_ms), ("SecOC_DataID", mid), ("SecOC_Profile", 1),
                            ("SecOC_AuthenticBytes", 4), ("SecOC_FvBits", 8), ("SecOC_MacBits", 24)):
            out.append('BA_ "%s" BO_ %d %d;\n' % (name, mid, value))
    return "".join(out)


def scenario(dbc_path, n_ecus, duration_s, bus_load, direct=2, seed=1, rekey_period_ms=1000):
    # Gateway plus n_ecus - 1 slaves, the first `direct` of them with modules.
    ecus = [{"name": "GATEWAY", "role": "master", "module": True}]
    for i in range(1, n_ecus):
        ecus.append({"name": ecu_name(i), "module": i <= direct})
    return {"name": "synthetic-%d" % n_ecus, "seed": seed, "duration_s": duration_s, "dbc": dbc_path,
            "bus_load": bus_load, "ecu": ecus, "rekey": {"period_ms": rekey_period_ms, "grace_ms": 300},
            "qkd": {"max_keys": 64}}
