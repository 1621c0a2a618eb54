"""Errors the simulator returns, rendered in the protocol of the service that was called."""


class AwsError(Exception):
    """An AWS error response: `code` is the error type the SDKs match on (e.g. EntityNotFoundException)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
