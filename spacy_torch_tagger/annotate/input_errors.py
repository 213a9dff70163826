"""The errors of an unusable input: raised before tagging where the first pass finds
them, and by a worker whose shard is no longer what the first pass read."""


class BadInputError(ValueError):
    """The input, pipeline or settings cannot be used as given; the message says why
    and how to fix it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        # The message as written: Ray Data appends retry advice to `args` of an error
        # raised in a worker, which does not apply to these.
        return self.message


class InputChangedError(BadInputError):
    """A shard's input bytes differ from those the first pass read."""
