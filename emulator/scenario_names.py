# The scenario checks that need more than one key: the DBC file, every name
# against it (keys of type "message" and "node" in emulator.scenario.TABLES)
# and against the [[ecu]] list (type "ecu"), and the ECU list itself.
import os


class Names:
    def __init__(self, dbc=None, messages=(), nodes=()):
        self.dbc = dbc  # the DBC's full path, None when it did not load
        self.messages = set(messages)  # SecOC application messages
        self.nodes = set(nodes)

    @classmethod
    def load(cls, dbc, dirs, source, problems):
        # dirs: the folders a relative DBC path is looked up in, in order
        if not isinstance(dbc, str):
            return cls()  # its type was reported already
        for candidate in [os.path.join(d, dbc) for d in dirs]:
            if os.path.isfile(candidate):
                break
        else:
            problems.append("%s: dbc: file not found: %s (looked relative to %s)"
                            % (source, dbc, " and to ".join(dirs)))
            return cls()
        try:
            import cantools

            from emulator.traffic import load_app_messages

            db = cantools.database.load_file(candidate, strict=True)
            messages = [m.name for m in load_app_messages(candidate)]
        except Exception as e:  # cantools raises assorted errors on a bad file
            problems.append("%s: dbc: %s is not a usable DBC: %s" % (source, dbc, str(e).splitlines()[0]))
            return cls()
        return cls(candidate, messages, [n.name for n in db.nodes])

    def check(self, scenario, source, problems, tables):
        # tables: emulator.scenario.TABLES, the schema whose name-typed keys
        # are looked up here
        ecus = scenario.get("ecu", [])
        names = [e.get("name") for e in ecus]
        known = {"message": (self.messages, "SecOC message of the DBC"),
                 "node": (self.nodes, "node of the DBC"), "ecu": (set(names), "[[ecu]] name")}
        for t in list(tables.values())[1:]:
            if not t.array:
                continue
            for i, entry in enumerate(scenario.get(t.name, [])):
                for key in t.keys.values():
                    value = entry.get(key.name)
                    if key.type not in known or not isinstance(value, str):
                        continue
                    valid, what = known[key.type]
                    if (key.type != "ecu" and self.dbc is None) or value in valid:
                        continue
                    problems.append("%s: [%s #%d] %s: %s is not a %s (%s)" % (
                        source, t.name, i + 1, key.name, value, what, ", ".join(sorted(valid)) or "none"))
        # (an invalid role was reported already)
        if len([e for e in ecus if e.get("role") == "master"]) != 1 and all("role" in e for e in ecus):
            problems.append('%s: [[ecu]] role: exactly one [[ecu]] must have role = "master"' % source)
        for i, name in enumerate(names):
            if name is not None and names.index(name) != i:
                problems.append("%s: [ecu #%d] name: %s is already the name of [ecu #%d]"
                                % (source, i + 1, name, names.index(name) + 1))
        slaves = set(e.get("name") for e in ecus if e.get("role") != "master")
        for i, a in enumerate(scenario.get("attack", [])):
            # the rekey attacks aim at a slave's channels (isotp_hog may aim at all)
            reported = [p for p in problems if p.startswith("%s: [attack #%d] ecu:" % (source, i + 1))]
            if a.get("kind") in ("fc_abuse", "join_replay") and "ecu" not in a and not reported:
                problems.append("%s: [attack #%d] ecu: missing (%s needs the slave it attacks)"
                                % (source, i + 1, a["kind"]))
            elif "ecu" in a and a.get("ecu") in names and a["ecu"] not in slaves:
                problems.append("%s: [attack #%d] ecu: %s is the master; %s attacks a slave"
                                % (source, i + 1, a["ecu"], a.get("kind")))
        by_name = dict((e.get("name"), e) for e in ecus)
        for i, f in enumerate(scenario.get("fault", [])):
            if f.get("kind") == "unplug" and f.get("ecu") in by_name and not by_name[f["ecu"]].get("module"):
                problems.append("%s: [fault #%d] ecu: %s has no QKD module to unplug (module = false)"
                                % (source, i + 1, f["ecu"]))
