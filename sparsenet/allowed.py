"""The one refusal of a value outside its allowed set, worded one way wherever a value is checked: the option
as the command line names it (or the parameter, for a Python caller), the values it takes, what was given."""

from __future__ import annotations


def one_of(name: str, value, allowed, error: type[Exception] = ValueError):
    """``value`` when it is one of ``allowed``; else ``error("NAME must be one of A, B, got 'x'")``."""
    if value not in allowed:
        raise error(f"{name} must be one of {', '.join(str(a) for a in allowed)}, got {value!r}")
    return value
