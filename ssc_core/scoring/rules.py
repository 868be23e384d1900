"""A broken scoring rule, as shown on the field it concerns."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RuleViolation:
    """One broken rule.

    ``field`` names what the GUI should mark: a pattern ("TOT", "GG", "RET"), a level ("L1".."L5"),
    or "L2.TOT"-style for a level's score; ``code`` is stable for tests and translations.
    """

    field: str
    code: str
    message: str
