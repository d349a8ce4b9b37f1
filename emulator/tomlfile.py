# Reading a TOML description (a scenario, a key network, a corridor), with
# the one-line errors the commands print.
import tomllib


def read(path, error):
    """The dict of the TOML file at path; error (an exception class) with one
    line when it cannot be read or parsed."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise error("cannot read %s: %s" % (path, e.strerror)) from None
    except tomllib.TOMLDecodeError as e:
        raise error("%s is not valid TOML: %s" % (path, e)) from None
