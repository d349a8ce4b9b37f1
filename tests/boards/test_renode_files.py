# Static checks of the Renode files, since Renode itself is not installed in
# CI: the Robot Framework suites in tests/renode parse with Robot Framework's
# own parser and call only keywords that exist (their own, Robot's libraries',
# Renode's); every peripheral a .resc connects or shows exists in the .repl
# its machine loads (following `using` into Renode's platforms, whose
# peripheral names are in boards/renode/renode_platforms.json, or the real
# files under RENODE_ROOT); and the UART and CAN controller each vehicle wires
# up are the ones the board's board.json names.
import json
import os
import re

import pytest
from robot import api as robot_api
from robot.api import get_model, get_resource_model
from robot.api.parsing import ModelVisitor
from robot.libraries.BuiltIn import BuiltIn
from robot.libraries.OperatingSystem import OperatingSystem
from robot.libraries.Process import Process

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RENODE_DIR = os.path.join(ROOT, "boards", "renode")
SUITES = os.path.join(ROOT, "tests", "renode")

# Keywords of Renode's Robot Framework library (src/Renode/RobotFrameworkEngine
# and tests/renode-keywords.robot) that the suites may call.
RENODE_KEYWORDS = (
    "Execute Command", "Create Terminal Tester", "Wait For Line On Uart", "Wait For Prompt On Uart",
    "Write Line To Uart", "Start Emulation", "Reset Emulation", "Set Default Uart Timeout",
    "Create CAN Tester", "Wait For Frame With Id", "Setup", "Teardown", "Test Teardown",
)


def norm(name):
    return name.lower().replace(" ", "").replace("_", "")


def library_keywords():
    names = set()
    for lib in (BuiltIn, Process, OperatingSystem):
        names.update(norm(n) for n in dir(lib) if not n.startswith("_") and callable(getattr(lib, n)))
    return names


class Collector(ModelVisitor):
    def __init__(self):
        self.errors = []
        self.calls = []
        self.defined = []
        self.resources = []

    def generic_visit(self, node):
        for err in getattr(node, "errors", ()) or ():
            self.errors.append("line %s: %s" % (getattr(node, "lineno", "?"), err))
        super().generic_visit(node)

    def visit_KeywordCall(self, node):
        self.calls.append(node.keyword)
        self.generic_visit(node)

    def visit_TestTeardown(self, node):
        self.calls.append(node.name)
        self.generic_visit(node)

    def visit_KeywordName(self, node):
        self.defined.append(node.name)
        self.generic_visit(node)

    def visit_ResourceImport(self, node):
        self.resources.append(node.name)
        self.generic_visit(node)


def collect(path):
    c = Collector()
    c.visit(get_resource_model(path) if path.endswith(".resource") else get_model(path))
    for res in c.resources:
        sub = collect(os.path.join(os.path.dirname(path), res))
        c.errors += sub.errors
        c.defined += sub.defined
        c.calls += sub.calls
    return c


def suite_files(ext):
    return sorted(os.path.join(SUITES, n) for n in os.listdir(SUITES) if n.endswith(ext))


def test_there_are_suites():
    assert len(suite_files(".robot")) >= 2


@pytest.mark.parametrize("path", suite_files(".robot") + suite_files(".resource"), ids=os.path.basename)
def test_suite_parses_and_calls_known_keywords(path):
    c = collect(path)
    assert c.errors == []
    known = library_keywords() | {norm(k) for k in RENODE_KEYWORDS} | {norm(k) for k in c.defined}
    unknown = sorted({k for k in c.calls if norm(k) not in known})
    assert unknown == []


def test_parser_check_catches_bad_suites(tmp_path):
    bad = tmp_path / "bad.robot"
    bad.write_text(
        "*** Test Cases ***\n"
        "Broken\n"
        "    Wait For Line On Uarts    boot\n"  # misspelt Renode keyword
        "    FOR    ${x}    IN    a\n"  # FOR without END
        "        Log    ${x}\n"
    )
    c = collect(str(bad))
    assert len(c.errors) == 1 and "END" in c.errors[0]
    known = library_keywords() | {norm(k) for k in RENODE_KEYWORDS}
    assert [k for k in c.calls if norm(k) not in known] == ["Wait For Line On Uarts"]


def test_suites_build_with_tests():
    suite = robot_api.TestSuiteBuilder().build(SUITES)
    assert len(list(suite.all_tests)) == len(suite_files(".robot"))


# --- .repl / .resc ---------------------------------------------------------

_DEFINES = re.compile(r"([A-Za-z_]\w*)\s*:")
_SET = re.compile(r"\$([\w.]+)(\??)=(.*)")
_USING = re.compile(r'using\s+"([^"]+)"')


def renode_platforms():
    with open(os.path.join(RENODE_DIR, "renode_platforms.json")) as f:
        return json.load(f)["platforms"]


def repl_peripherals(path, platforms):
    # Names a .repl defines, with everything it pulls in through `using`.
    renode_root = os.environ.get("RENODE_ROOT")
    if path.startswith("platforms/"):
        if renode_root:
            return repl_peripherals(os.path.join(renode_root, path), platforms)
        if path not in platforms:
            raise AssertionError("Renode platform %s unknown (add it to renode_platforms.json)" % path)
        names = set(platforms[path]["peripherals"])
        for used in platforms[path]["using"]:
            names |= repl_peripherals(used, platforms)
        return names
    names = {"sysbus"}
    with open(path) as f:
        for line in f:
            if line.startswith("//"):
                continue
            m = _USING.match(line)
            if m:
                names |= repl_peripherals(m.group(1), platforms)
                continue
            m = _DEFINES.match(line)
            if m:
                names.add(m.group(1))
    return names


def check_resc(path, platforms, state=None):
    # Walks a .resc as Renode would (includes in place, one machine at a
    # time); returns (problems, connections) with connections as
    # [(machine, peripheral, hub_or_terminal)].
    state = state if state is not None else {
        "machine": None, "peripherals": {}, "hubs": set(), "links": [], "problems": [], "vars": {},
    }
    here = os.path.dirname(path)
    with open(path) as f:
        lines = f.read().splitlines()
    for n, raw in enumerate(lines, 1):
        line = raw.strip()
        where = "%s:%d" % (os.path.relpath(path, ROOT), n)
        words = line.replace('"', " ").split()
        if not words or line.startswith("#") or line.startswith(":"):
            continue
        m = _SET.match(line)
        if m:
            if not m.group(2) or m.group(1) not in state["vars"]:
                state["vars"][m.group(1)] = m.group(3).strip().strip('"')
            continue
        words = [state["vars"].get(w[1:], w) if w.startswith("$") else w for w in words]
        if words[0] == "include" and words[1].startswith("$ORIGIN/"):
            check_resc(os.path.join(here, words[1][len("$ORIGIN/"):]), platforms, state)
        elif words[:2] == ["mach", "create"]:
            state["machine"] = words[2] if len(words) > 2 else "machine"
            state["peripherals"][state["machine"]] = {"sysbus"}
        elif words[:2] == ["machine", "LoadPlatformDescription"]:
            repl = words[2]
            repl = os.path.join(here, repl[len("$ORIGIN/"):]) if repl.startswith("$ORIGIN/") else repl.lstrip("@")
            if not repl.startswith("platforms/") and not os.path.exists(repl):
                state["problems"].append("%s: no such platform %s" % (where, repl))
                continue
            state["peripherals"][state["machine"]] |= repl_peripherals(repl, platforms)
        elif words[:2] in (["emulation", "CreateCANHub"], ["emulation", "CreateServerSocketTerminal"]):
            state["hubs"].add(words[-2] if words[1] == "CreateServerSocketTerminal" else words[2])
        elif words[:2] == ["connector", "Connect"] or words[0] == "showAnalyzer":
            target = words[2] if words[0] == "connector" else words[1]
            name = target.split(".", 1)[1] if target.startswith("sysbus.") else target
            have = state["peripherals"].get(state["machine"], set())
            if name not in have:
                state["problems"].append("%s: %s is not a peripheral of machine %s" % (where, target, state["machine"]))
            if words[0] == "connector":
                if words[3] not in state["hubs"]:
                    state["problems"].append("%s: %s was never created" % (where, words[3]))
                state["links"].append((state["machine"], name, words[3]))
    return state


def rescs():
    return sorted(os.path.join(RENODE_DIR, n) for n in os.listdir(RENODE_DIR) if n.endswith(".resc"))


@pytest.mark.parametrize("path", rescs(), ids=os.path.basename)
def test_resc_connects_only_existing_peripherals(path):
    state = check_resc(path, renode_platforms())
    assert state["problems"] == []


def test_checker_catches_a_missing_peripheral(tmp_path):
    resc = tmp_path / "bad.resc"
    resc.write_text(
        'emulation CreateCANHub "canHub"\n'
        'mach create "m"\n'
        "machine LoadPlatformDescription @platforms/cpus/stm32f4.repl\n"
        "connector Connect sysbus.fdcan1 canHub\n"  # an F4 has bxCAN can1/can2
        "connector Connect sysbus.usart3 nowhere\n"
    )
    problems = check_resc(str(resc), renode_platforms())["problems"]
    assert len(problems) == 2
    assert "sysbus.fdcan1 is not a peripheral of machine m" in problems[0]
    assert "nowhere was never created" in problems[1]


VEHICLES = {
    # script: (board, CAN peripheral prefix)
    "vehicle_f446re.resc": ("NUCLEO_F446RE", "can"),
    "vehicle_h743zi_fd.resc": ("NUCLEO_H743ZI", "fdcan"),
}


@pytest.mark.parametrize("script", sorted(VEHICLES))
def test_vehicle_wires_the_board_config(script):
    board, can_prefix = VEHICLES[script]
    with open(os.path.join(ROOT, "boards", board, "board.json")) as f:
        cfg = json.load(f)
    links = check_resc(os.path.join(RENODE_DIR, script), renode_platforms())["links"]
    machines = sorted({m for m, _, _ in links})
    assert machines == ["master", "slave1", "slave2"]
    can = can_prefix + str(cfg["can"]["bus"])
    assert sorted(m for m, p, hub in links if p == can and hub == "canHub") == machines
    uart_id = cfg["module_uart"]["id"]
    module_links = [(m, p) for m, p, hub in links if hub.startswith("module_")]
    assert module_links == [("master", "usart%d" % uart_id)]
