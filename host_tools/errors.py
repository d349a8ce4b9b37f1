# The host tools' exception tree.


class UserError(Exception):
    """A mistake in what the user asked for: printed as one `error:` line,
    exit status 2, no traceback (unless --debug)."""
