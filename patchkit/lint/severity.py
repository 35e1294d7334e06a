"""Finding severities: one definition for lint, the CLI's choices and the CI reports.

Kept apart from the lint engine so the CLI can offer the choices without importing it.
"""

from __future__ import annotations

from typing import Literal, get_args

Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)
SEVERITY_RANK: dict[Severity, int] = {"error": 3, "warning": 2, "info": 1}
FAIL_ON_DEFAULT: Severity = "error"  # findings at or above this fail a command (warnings and info are only shown)


def as_severity(name: str) -> Severity:
    """``name`` as a :data:`Severity` (a ValueError for anything else)."""
    for severity in SEVERITIES:
        if severity == name:
            return severity
    raise ValueError(f"not a severity: {name!r} (one of {', '.join(SEVERITIES)})")
