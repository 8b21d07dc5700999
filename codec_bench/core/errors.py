"""The one exception type users see: a one-line message that names the file and the fix."""


class CodecBenchError(Exception):
    """A user-facing error. The CLI prints ``str(err)`` on one line and exits with status 2."""


class AudioError(CodecBenchError):
    """A clip that cannot be used (missing, unreadable, empty, NaN, silent). Callers may count it as a skip."""
