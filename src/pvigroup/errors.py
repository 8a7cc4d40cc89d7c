"""One exception type for problems the user can fix: bad config, bad data, bad groups."""


class PvigroupError(Exception):
    """A problem in the user's config or data.

    The message names the file, key or row at fault. Workflow scripts let it propagate;
    ``pvigroup.io.run_script`` prints it as one line (no traceback) and exits with status 1.
    """
