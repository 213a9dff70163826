"""Checks of config values, with errors that name the key and what it allows.

Imports neither spaCy nor torch: the feature spec and the torch networks
validate their settings with these too.
"""

from typing import Optional, Sequence


def check_int(owner: str, key: str, value: object, minimum: int, maximum: Optional[int] = None) -> int:
    """`value` as an int within [minimum, maximum]; bools and strings are refused."""
    allowed = f"an integer >= {minimum}" if maximum is None else f"an integer from {minimum} to {maximum}"
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{owner} {key} must be {allowed}, got {value!r} ({type(value).__name__}).")
    if value < minimum or (maximum is not None and value > maximum):
        raise ValueError(f"{owner} {key} must be {allowed}, got {value}.")
    return value


def check_float(owner: str, key: str, value: object, minimum: float, below: Optional[float] = None) -> float:
    """`value` as a float in [minimum, below); ints are accepted, bools and strings refused."""
    allowed = f"a number >= {minimum}" if below is None else f"a number in [{minimum}, {below})"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{owner} {key} must be {allowed}, got {value!r} ({type(value).__name__}).")
    if not minimum <= value or (below is not None and not value < below):
        raise ValueError(f"{owner} {key} must be {allowed}, got {value}.")
    return float(value)


def check_bool(owner: str, key: str, value: object) -> bool:
    """`value` if it is a bool (config `true` / `false`)."""
    if not isinstance(value, bool):
        raise ValueError(f"{owner} {key} must be true or false, got {value!r} ({type(value).__name__}).")
    return value


def check_str(owner: str, key: str, value: object, allowed: Optional[Sequence[str]] = None) -> str:
    """`value` if it is a string (one of `allowed` when given)."""
    if not isinstance(value, str) or (allowed is not None and value not in allowed):
        expected = f"one of {list(allowed)}" if allowed is not None else "a string"
        raise ValueError(f"{owner} {key} must be {expected}, got {value!r} ({type(value).__name__}).")
    return value
