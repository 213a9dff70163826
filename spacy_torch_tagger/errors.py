"""Errors raised for saved data that cannot be loaded."""


class ModelFileError(ValueError):
    """Saved model data that is not ours, is damaged, or does not fit the config."""
