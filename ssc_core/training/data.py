"""Records of the training data: a case's labels, where its scan comes from, and problems found in them.

A :class:`TrainingCase` is one patient: a pseudonymous ``key`` (what splits and logs use), ``where`` (how
messages name it: "row 5" of a workbook, a study's case code, a phantom's pseudonym), and how to load its
scan and labels. Cases never carry a patient identifier: a workbook's ``PatID`` only enters the key
through a one-way hash, and paths stay inside the case (hidden from ``repr``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ssc_core.constants import GOH_EXTENSIVE_THRESHOLD, LEVELS, PATTERNS, Level
from ssc_core.scoring import LevelScores

if TYPE_CHECKING:
    from ssc_core.imaging.phantom import DiseaseSpec
    from ssc_core.imaging.volume import CTVolume


@dataclass(frozen=True)
class DataProblem:
    """A problem of one row or case, found before training starts."""

    where: str
    field: str
    message: str

    def __str__(self) -> str:
        return (
            f"{self.where}, {self.field}: {self.message}" if self.field else f"{self.where}: {self.message}"
        )


@dataclass(frozen=True)
class CaseLabels:
    """Reference labels of a case: world z (mm, LPS) and TOT/GG/RET of each level."""

    level_z: Mapping[Level, float]
    scores: Mapping[Level, LevelScores]

    def score_vector(self, level: Level) -> tuple[float, float, float]:
        """(TOT, GG, RET) of a level as floats."""
        s = self.scores[level]
        return tuple(float(s.get(p) or 0) for p in PATTERNS)  # type: ignore[return-value]

    @property
    def global_tot(self) -> float:
        """Mean TOT over the five levels (the global extent of Goh et al. 2008)."""
        return sum(self.score_vector(lv)[0] for lv in LEVELS) / len(LEVELS)

    @property
    def stratum(self) -> str:
        """Goh class for stratified splits: healthy, limited (<= 20 %) or extensive (> 20 %)."""
        g = self.global_tot
        if g == 0:
            return "healthy"
        return "extensive" if g > GOH_EXTENSIVE_THRESHOLD else "limited"

    def to_json(self) -> dict[str, Any]:
        return {
            "level_z": {lv.label: float(self.level_z[lv]) for lv in LEVELS},
            "scores": {lv.label: list(self.score_vector(lv)) for lv in LEVELS},
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> CaseLabels:
        z = {Level.parse(k): float(v) for k, v in obj["level_z"].items()}
        scores = {Level.parse(k): LevelScores(*(round(x) for x in v)) for k, v in obj["scores"].items()}
        return cls(z, scores)


def path_identity(path: Path) -> str:
    """SHA-256 over the path and the name, size and modification time of every file under it."""
    h = hashlib.sha256(str(path.resolve()).encode())
    files = sorted(path.rglob("*")) if path.is_dir() else [path]
    for f in files:
        try:
            st = f.stat()
        except OSError:
            continue
        if f.is_file():
            h.update(f"{f}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()


def hashed_key(prefix: str, text: str) -> str:
    """A stable pseudonymous key from an identifier (one-way; used for splits and cache names)."""
    return prefix + hashlib.sha256(f"ssc-training/{text}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ScanCase:
    """A case whose scan is on disk (a workbook row matched to a scan, or a study case)."""

    key: str
    where: str
    labels: CaseLabels
    path: Path = field(repr=False)
    series: str | None = field(default=None, repr=False)

    @property
    def stratum(self) -> str:
        return self.labels.stratum

    def identity(self) -> str:
        """Cheap identity of the scan files (paths, sizes, modification times) for the preprocessing cache."""
        return hashlib.sha256(f"{path_identity(self.path)}|{self.series}".encode()).hexdigest()

    def load(self) -> tuple[CTVolume, CaseLabels]:
        from ssc_core.imaging.loader import load_scan

        return load_scan(self.path, series=self.series).volume, self.labels


@dataclass(frozen=True)
class PhantomCase:
    """A synthetic phantom patient, generated in process (labels from its exact ground truth)."""

    key: str
    seed: int
    disease: DiseaseSpec | None
    slice_spacing_mm: float = 2.5
    matrix: int = 512

    @property
    def where(self) -> str:
        return f"phantom {self.key}"

    @property
    def stratum(self) -> str:
        if self.disease is None:
            return "healthy"
        return "extensive" if sum(self.disease.tot) / len(LEVELS) > GOH_EXTENSIVE_THRESHOLD else "limited"

    @property
    def labels(self) -> CaseLabels | None:
        return None  # known once generated

    def identity(self) -> str:
        from ssc_core.imaging.phantom import PHANTOM_VERSION

        return hashlib.sha256(
            f"phantom/{PHANTOM_VERSION}/{self.seed}/{self.disease}/{self.slice_spacing_mm}/{self.matrix}".encode()
        ).hexdigest()

    def load(self) -> tuple[CTVolume, CaseLabels]:
        from ssc_core.imaging.phantom import generate_phantom

        ph = generate_phantom(
            self.seed, slice_spacing_mm=self.slice_spacing_mm, disease=self.disease, matrix=self.matrix
        )
        # As in the cohort's label workbook: the world z of the slice nearest to each level.
        z = {lv: float(ph.volume.slice_z[k]) for lv, k in ph.level_slices.items()}
        return ph.volume, CaseLabels(z, dict(ph.level_scores))


TrainingCase = ScanCase | PhantomCase


@dataclass(frozen=True)
class CaseCollection:
    """The cases of a data source, the problems found in it, and a description for the bundle's provenance."""

    cases: tuple[TrainingCase, ...]
    problems: tuple[DataProblem, ...]
    description: dict[str, Any]


def file_digest(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file (the label workbook, a study file), for provenance."""
    from ssc_core.fileio import sha256_file

    return sha256_file(Path(path))
