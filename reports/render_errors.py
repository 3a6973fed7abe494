"""The one error a report writer raises, shared by the modules that write report files."""


class RenderError(Exception):
    """A report file could not be written; the message is one line for the user."""
