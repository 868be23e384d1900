"""The AI's state as the panel and the status bar show it (kept apart from the controller so the widgets
import nothing else)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AIStatus(enum.Enum):
    HIDDEN = "hidden"
    WAITING_COMMIT = "waiting for the unaided commit"
    NO_BUNDLE = "no model bundle"
    LOADING = "loading the model"
    MISMATCH = "other model"
    IDLE = "idle"
    RUNNING = "running"
    READY = "ready"
    CANCELLED = "cancelled"
    ERROR = "error"


@dataclass(frozen=True)
class AIState:
    """What the AI panel and the status bar show."""

    status: AIStatus
    message: str
    hint: str = ""
    done: int = 0
    total: int = 0
    case: str | None = None

    @property
    def busy(self) -> bool:
        return self.status in (AIStatus.RUNNING, AIStatus.LOADING)


def demo_bundle_installed() -> bool:
    """Is the demo model bundle there (its spec file; verified only when loaded)?"""
    from ssc_core.ai.bundle import default_bundle_path
    from ssc_core.ai.spec import SPEC_FILE

    return (default_bundle_path() / SPEC_FILE).is_file()
