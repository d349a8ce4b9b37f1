# The board folders (boards/<BOARD>/board.json): the one place that lists
# and loads them, for `qkd-secoc flash` and `make firmware`.
import json
import os

from host_tools.errors import UserError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = os.path.join(ROOT, "boards")


def known_boards(boards_dir=BOARDS):
    try:
        return sorted(d for d in os.listdir(boards_dir)
                      if os.path.isfile(os.path.join(boards_dir, d, "board.json")))
    except OSError:
        return []


def load_board(name, boards_dir=BOARDS):
    """The board's configuration (dict) with at least "mpy_march"."""
    path = os.path.join(boards_dir, name, "board.json")
    if not name or os.sep in name or not os.path.isfile(path):
        known = known_boards(boards_dir)
        raise UserError("unknown board %s (known: %s)" % (name or "''", ", ".join(known) if known
                                                          else "none in %s" % boards_dir))
    try:
        with open(path) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError("board %s: %s is not readable JSON: %s" % (name, path, e)) from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("mpy_march"), str):
        raise UserError("board %s: %s has no \"mpy_march\"" % (name, path))
    return cfg
