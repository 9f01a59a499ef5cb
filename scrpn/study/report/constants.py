"""Numbers the REPORT's prose names that are not results: the study's rule constants and the
versions it pins. The ``const`` field prints them, so that the source names what each one is and
``tests/test_report.py``'s scan for typed study numbers stays exact (a typed number there is a
result nobody can trace).

Each entry: ``name -> (value, why)``; the value is read from the code that uses it wherever such
code exists, so a changed rule changes the REPORT's sentence with it.
"""
from __future__ import annotations

from typing import Any

from ..stats import RESOLVED_SE

__all__ = ["CONSTANTS", "const"]

CONSTANTS: dict[str, tuple[Any, str]] = {
    "resolved_se": (RESOLVED_SE, "a difference is resolved at |Δ| >= this many standard errors (stats.RESOLVED_SE)"),
    "mmdet_version": ("3.3", "the mmdetection release of the dev-only reference harness (tools/mmdet_reference/)"),
}


def const(name: str) -> Any:
    """The constant ``name`` (:data:`CONSTANTS`)."""
    if name not in CONSTANTS:
        raise KeyError(f"no constant {name!r} (known: {', '.join(sorted(CONSTANTS))})")
    return CONSTANTS[name][0]
