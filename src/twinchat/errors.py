"""The one exception users see: its message is a single line that names the fix."""


class TwinchatError(Exception):
    """A problem with the user's input or options, reported as one line without a traceback."""


def reason(error: BaseException) -> str:
    """The first line of another library's exception, to quote inside a one-line error."""
    lines = str(error).strip().splitlines()
    return lines[0] if lines else type(error).__name__
