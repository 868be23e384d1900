"""Study files with simulated readers, built through the store API (statistics view tests, screenshots).

The true scores and level positions of each case are given (from a phantom's ground truth, or drawn
here); the consensus session records the truth, each observer adds Gaussian noise of a known SD to every
score (then rounds to the 5 % grid and makes the triple consistent, as a reader's entry must be) and to
every level position, and an AI bundle gets noisy raw outputs. Everything is written with the same calls
the workstation makes (``place_level``, ``set_score``, ``submit``...), so the statistics are computed
from a real study file.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ssc_core.constants import LEVELS, PATTERNS, Level
from ssc_core.imaging.volume import ImportIdentity
from ssc_core.scoring import make_consistent, round_to_grid
from ssc_core.study.clock import ManualClock
from ssc_core.study.records import CaseSource
from ssc_core.study.store import create_study

#: Hash of the simulated AI bundle (the tables name it by its first 12 characters).
BUNDLE = "5eed" * 16
#: Distance between the slices of the simulated scans (mm): level positions become slice indices with it.
SLICE_MM = 2.5
#: The simulated scans start this far (mm) above the case's L1.
SCAN_ABOVE_L1_MM = 40.0


@dataclass(frozen=True)
class CaseTruth:
    """True scores (TOT, GG, RET per level) and level positions (world z, mm) of one case."""

    scores: Mapping[Level, tuple[int, int, int]]
    z_mm: Mapping[Level, float]

    def slice_index(self, z: float) -> int:
        """Slice of world z in a scan starting :data:`SCAN_ABOVE_L1_MM` above L1 (slice 0 cranial)."""
        top = max(self.z_mm.values()) + SCAN_ABOVE_L1_MM
        return max(0, round((top - z) / SLICE_MM))


@dataclass
class SimulatedStudy:
    path: Path
    codes: list[str]
    readers: dict[str, float]
    #: Values written, by (session label, reader name, case code): level -> (TOT, GG, RET).
    entered: dict[tuple[str, str, str], dict[Level, tuple[int, int, int]]] = field(default_factory=dict)


def random_truth(n_cases: int, seed: int = 0) -> list[CaseTruth]:
    """SSc-like truth: about a third of the patients healthy, disease more extensive caudally."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_cases):
        severity = rng.uniform(5, 50) if rng.random() < 0.7 else 0.0
        scores = {}
        for lv in LEVELS:
            base = severity * (0.4 + 0.3 * (int(lv) - 1))
            gg = round_to_grid(max(0.0, base * rng.uniform(0.3, 0.9)))
            ret = round_to_grid(max(0.0, base * rng.uniform(0.2, 0.7)))
            scores[lv] = make_consistent(round_to_grid(max(gg, ret) + 0.5 * min(gg, ret)), gg, ret)
        z = {lv: 160.0 - 35.0 * n + rng.normal(0, 4) for n, lv in enumerate(LEVELS)}
        out.append(CaseTruth(scores, z))
    return out


def _noisy(rng: np.random.Generator, truth: tuple[int, int, int], sd: float) -> tuple[int, int, int]:
    tot, gg, ret = (round_to_grid(v + rng.normal(0, sd)) if sd > 0 else v for v in truth)
    return make_consistent(tot, gg, ret)


def _source(i: int) -> CaseSource:
    identity = ImportIdentity(
        patient_id=f"SIM{i:04d}",
        patient_name=f"Simulated^{i:04d}",
        study_instance_uid=f"1.2.826.0.1.3680043.9.{i}",
        series_instance_uid=f"1.2.826.0.1.3680043.9.{i}.1",
    )
    return CaseSource(location=f"/simulated/case{i:04d}.mha", content_hash=f"{i + 1:064x}", identity=identity)


def build_study(
    path: str | Path,
    truth: Sequence[CaseTruth],
    *,
    readers: Mapping[str, float] | None = None,
    repeat_session: bool = False,
    ai_noise: float | None = 4.0,
    likert_reader: str | None = None,
    unfinished: int = 0,
    seed: int = 1,
    title: str = "Simulated reader study",
) -> SimulatedStudy:
    """Write a study file: consensus "GT" (the truth), observer session "S1" (and its repeat "S2").

    Parameters
    ----------
    readers
        Reader name -> noise SD of their scores in points (default Reader A 3, Reader B 6); level
        positions get 1 + SD/2 mm of noise.
    repeat_session
        Add "S2", a repeat of S1 after the six-week washout (intra-observer agreement).
    ai_noise
        SD of the AI bundle's raw outputs (None: no AI results).
    likert_reader
        This reader also rates every heat map (session "HM", mostly agree).
    unfinished
        The last reader leaves this many S1 cases scored but not submitted.
    """
    rng = np.random.default_rng(seed)
    readers = dict(readers) if readers is not None else {"Reader A": 3.0, "Reader B": 6.0}
    clock = ManualClock()
    store = create_study(Path(path), name=title, admin="Admin", clock=clock)
    try:
        admin = store.reader_by_name("Admin").id
        ids = {name: store.add_reader(name, by=admin).id for name in readers}
        consensus = store.add_reader("Consensus panel", by=admin).id
        cases = store.add_cases([_source(i) for i in range(len(truth))], by=admin)
        codes = [c.code for c in cases]
        built = SimulatedStudy(Path(path), codes, readers)

        def session(label: str, kind: str, members: list[int], **kw) -> int:
            s = store.add_session(label, kind, members, by=admin, order_seed=7, **kw)
            store.open_session(s.id, by=admin)
            return s.id

        def read(sid: int, label: str, reader: str, rid: int, sd: float, z_sd: float, submit_until: int):
            for n, (code, t) in enumerate(zip(codes, truth)):
                values = {}
                for lv in LEVELS:
                    z = float(t.z_mm[lv] + (rng.normal(0, z_sd) if z_sd else 0.0))
                    store.place_level(sid, rid, code, lv, round(z, 1), t.slice_index(z))
                    scores = _noisy(rng, t.scores[lv], sd)
                    values[lv] = scores
                    for pattern, value in zip(PATTERNS, scores):
                        store.set_score(sid, rid, code, lv, pattern, value)
                store.add_time(sid, rid, code, float(rng.integers(240, 720)))
                built.entered[(label, reader, code)] = values
                if n < submit_until:
                    store.submit(sid, rid, code)
                clock.advance(minutes=11)

        gt = session("GT", "consensus", [consensus])
        read(gt, "GT", "Consensus", consensus, 0.0, 0.0, len(codes))
        names = list(readers)
        s1 = session("S1", "observer", [ids[n] for n in names])
        for name in names:
            last = name == names[-1]
            read(
                s1,
                "S1",
                name,
                ids[name],
                readers[name],
                1 + readers[name] / 2,
                len(codes) - unfinished * last,
            )
        if repeat_session:
            s2 = session("S2", "observer", [ids[n] for n in names], repeat_of=s1)
            clock.advance(days=43)  # after the six-week washout
            for name in names:
                read(s2, "S2", name, ids[name], readers[name], 1 + readers[name] / 2, len(codes))
        if ai_noise is not None:
            for case, t in zip(cases, truth):
                raw = {lv: [float(v + rng.normal(0, ai_noise)) for v in t.scores[lv]] for lv in LEVELS}
                store.put_ai_result(
                    case.id,
                    BUNDLE,
                    levels={
                        lv: (z := float(t.z_mm[lv] + rng.normal(0, 3)), t.slice_index(z)) for lv in LEVELS
                    },
                    scores={lv: dict(zip(("TOT", "GG", "RET"), raw[lv])) for lv in LEVELS},
                    details={
                        "heatmap_scores": {
                            lv.label: {
                                p: round(0.85 * v + float(rng.normal(0, 2.5)), 2)
                                for p, v in zip(("TOT", "GG", "RET"), raw[lv])
                            }
                            for lv in LEVELS
                        },
                        "heatmap_threshold": -0.6,
                    },
                )
        if likert_reader is not None:
            hm = session("HM", "heatmap", [ids[likert_reader]])
            for code in codes:
                for lv in LEVELS:
                    for pattern in PATTERNS:
                        rating = int(rng.choice([2, 3, 4, 5], p=[0.04, 0.11, 0.45, 0.40]))
                        store.set_rating(hm, ids[likert_reader], code, lv, pattern, rating)
                store.submit(hm, ids[likert_reader], code)
    finally:
        store.close()
    return built


def empty_study(path: str | Path) -> Path:
    """A study with cases and an open observer session; one reading begun, none submitted."""
    store = create_study(Path(path), name="Not started yet", admin="Admin", clock=ManualClock())
    try:
        admin = store.reader_by_name("Admin").id
        a = store.add_reader("Reader A", by=admin).id
        cases = store.add_cases([_source(i) for i in range(3)], by=admin)
        s = store.add_session("S1", "observer", [a], by=admin)
        store.open_session(s.id, by=admin)
        store.set_score(s.id, a, cases[0].code, Level.L1, PATTERNS[0], 10)
    finally:
        store.close()
    return Path(path)
