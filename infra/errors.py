"""The one error type the local stack raises; its message is shown to the user as one line."""


class InfraError(RuntimeError):
    """A local-stack failure a user can act on (port taken, Java missing, download failed)."""
