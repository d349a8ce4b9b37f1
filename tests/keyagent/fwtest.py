# Helpers shared by the firmware tests. These tests run twice: under the real
# MicroPython unix port (tests/keyagent/run.py) and under CPython (pytest),
# so they use only what both runtimes have.
import json

try:
    _HERE = __file__.rsplit("/", 1)[0]
except AttributeError:
    _HERE = "tests/keyagent"


def vectors(name):
    # Published vectors, copied from shared/vectors with their source named.
    with open(_HERE + "/../vectors/" + name) as f:
        return json.load(f)


def h(text):
    return bytes.fromhex(text)


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return True
    return False


BOARDS = _HERE + "/../../boards"


def board(name):
    # A board configuration from boards/<name>/board.json.
    with open(BOARDS + "/" + name + "/board.json") as f:
        return json.load(f)
