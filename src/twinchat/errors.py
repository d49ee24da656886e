"""The one exception users see: its message is a single line that names the fix."""


class TwinchatError(Exception):
    """A problem with the user's input or options, reported as one line without a traceback."""
