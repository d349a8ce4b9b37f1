# The folder tree is the architecture, and the imports must say so:
#   keyagent (firmware core)  <-  emulator  <-  host_tools
# with no cycles between modules, hardware (machine, pyb) only in
# keyagent.hal and keyagent.board, and sockets (socket, select) only in
# keyagent.unix. Every import statement counts, also those inside functions.
import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = {"keyagent": os.path.join(ROOT, "firmware", "keyagent"),
            "emulator": os.path.join(ROOT, "emulator"),
            "host_tools": os.path.join(ROOT, "host_tools")}
LAYER = {"keyagent": 0, "emulator": 1, "host_tools": 2}
HARDWARE = {"machine", "pyb"}
SOCKETS = {"socket", "select"}


def modules():
    """{dotted module name: source path} of the three packages."""
    found = {}
    for top, path in PACKAGES.items():
        for folder, dirs, names in os.walk(path):
            dirs[:] = [d for d in dirs if d != "__pycache__"]
            for name in names:
                if name.endswith(".py") and name != "manifest.py":
                    rel = os.path.relpath(os.path.join(folder, name), path)[:-3].replace(os.sep, ".")
                    dotted = top if rel == "__init__" else top + "." + rel.replace(".__init__", "")
                    found[dotted] = os.path.join(folder, name)
    return found


MODULES = modules()


def imported(path):
    """Every module name an import statement in the file names."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            # `from keyagent.secoc import engine` imports keyagent.secoc.engine
            names.update(node.module + "." + a.name for a in node.names
                         if node.module + "." + a.name in MODULES)
    return names


def internal_graph():
    return {mod: {n for n in imported(path) if n in MODULES and n != mod} for mod, path in MODULES.items()}


def test_imports_point_down():
    wrong = []
    for mod, path in sorted(MODULES.items()):
        layer = LAYER[mod.split(".")[0]]
        for name in imported(path):
            top = name.split(".")[0]
            if top in LAYER and LAYER[top] > layer:
                wrong.append("%s imports %s" % (mod, name))
    assert wrong == []


def test_no_import_cycles():
    graph = internal_graph()
    # a package imports its own __init__ implicitly; that is not a cycle
    cycles = []
    state = {}

    def visit(mod, stack):
        state[mod] = "open"
        for dep in sorted(graph[mod]):
            if state.get(dep) == "open":
                cycles.append(" -> ".join(stack[stack.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep, stack + [dep])
        state[mod] = "done"

    for mod in sorted(graph):
        if mod not in state:
            visit(mod, [mod])
    assert cycles == []


@pytest.mark.parametrize("forbidden,allowed", [
    (HARDWARE, ("keyagent.hal", "keyagent.board")),
    (SOCKETS, ("keyagent.unix",)),
])
def test_hardware_and_sockets_stay_in_their_packages(forbidden, allowed):
    wrong = []
    for mod, path in sorted(MODULES.items()):
        if not mod.startswith("keyagent") or mod.startswith(allowed):
            continue
        hits = {n for n in imported(path) if n.split(".")[0] in forbidden}
        if hits:
            wrong.append("%s imports %s" % (mod, ", ".join(sorted(hits))))
    assert wrong == []


def test_the_checks_see_a_wrong_import(tmp_path):
    # The walker must notice an import inside a function, as the agent's
    # lazy imports are written.
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from host_tools.cli import main\n    import machine\n")
    assert {"host_tools.cli", "machine"} <= imported(str(bad))
