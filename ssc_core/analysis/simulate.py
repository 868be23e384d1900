"""Simulated reader studies with known reader noise, for tests, benchmarks and demonstrations.

True scores come from a phantom-like cohort (about half the levels healthy, disease more extensive
caudally, as in SSc-ILD); each reader adds Gaussian noise of a known SD to each pattern, then rounds to the
5 % grid and makes the triple consistent (TOT between max(GG, RET) and min(100, GG + RET)). Less noise must
give lower MAE and higher kappa and ICC: the tests check that order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta, timezone

from ssc_core.analysis.tables import CONSENSUS_READER, RaterKind, StudyDescription, StudyTables
from ssc_core.constants import LEVELS, LIKERT_SCALE, Pattern
from ssc_core.scoring import make_consistent, round_to_grid

_START = datetime(2024, 3, 4, 8, 0, tzinfo=timezone.utc)


def _true_scores(rng, n_cases: int) -> dict[tuple[str, int], tuple[int, int, int]]:
    out = {}
    for i in range(n_cases):
        case = f"C{i + 1:03d}"
        severity = rng.uniform(0, 45) if rng.random() < 0.7 else 0.0
        for lv in LEVELS:
            # SSc-ILD is basal-predominant: caudal levels carry more disease.
            base = severity * (0.4 + 0.3 * (int(lv) - 1))
            gg = round_to_grid(max(0.0, base * rng.uniform(0.3, 0.9) + rng.normal(0, 2)))
            ret = round_to_grid(max(0.0, base * rng.uniform(0.2, 0.7) + rng.normal(0, 2)))
            tot = round_to_grid(max(gg, ret) + 0.5 * min(gg, ret))
            out[(case, int(lv))] = make_consistent(tot, gg, ret)
    return out


def _noisy(rng, truth: tuple[int, int, int], sd: float) -> tuple[int, int, int]:
    tot, gg, ret = (round_to_grid(v + rng.normal(0, sd)) if sd > 0 else v for v in truth)
    return make_consistent(tot, gg, ret)


def simulate_study(
    *,
    n_cases: int = 30,
    readers: Mapping[str, float] | None = None,
    sessions: Sequence[str] = ("S1", "S2"),
    ai_noise: float | None = 4.0,
    bundle: str = "cascade-sim",
    consensus_session: str = "GT",
    likert_readers: Sequence[str] = (),
    seed: int = 0,
) -> StudyTables:
    """A complete simulated study.

    Parameters
    ----------
    n_cases
        Patients (case codes C001...).
    readers
        Reader name -> noise SD in score points (default A: 3, B: 6).
    sessions
        Session labels; every reader reads every case in each (unaided).
    ai_noise
        Noise SD of the AI's raw output; None leaves the AI out.
    likert_readers
        Readers who also rate the heat maps (session "HM").
    seed
        Random seed; the same seed gives the same study.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    readers = dict(readers) if readers is not None else {"A": 3.0, "B": 6.0}
    truth = _true_scores(rng, n_cases)
    true_z = {
        (case, lv): 150.0 - 30.0 * lv + 5.0 * rng.normal()
        for case in sorted({c for c, _ in truth})
        for lv in (int(x) for x in LEVELS)
    }
    ratings: list[dict[str, object]] = []
    positions: list[dict[str, object]] = []
    timing: list[dict[str, object]] = []
    ai_rows: list[dict[str, object]] = []
    likert: list[dict[str, object]] = []

    def add_reading(kind: RaterKind, reader: str, session: str, sd: float, z_sd: float, day: int) -> None:
        for n, case in enumerate(sorted({c for c, _ in truth})):
            start = _START + timedelta(days=day, minutes=12 * n)
            submitted = start + timedelta(seconds=int(rng.integers(300, 900)))
            common = {"case": case, "rater_kind": kind.value, "reader": reader, "session": session}
            for lv in (int(x) for x in LEVELS):
                scores = _noisy(rng, truth[(case, lv)], sd)
                for pattern, value in zip(Pattern, scores):
                    ratings.append(
                        {
                            **common,
                            "level": lv,
                            "pattern": pattern.value,
                            "score": value,
                            "entered_at": start + timedelta(seconds=60 * lv),
                            "submitted_at": submitted,
                        }
                    )
                positions.append(
                    {
                        **common,
                        "level": lv,
                        "z_mm": round(true_z[(case, lv)] + rng.normal(0, z_sd), 1),
                        "entered_at": start + timedelta(seconds=20 * lv),
                    }
                )
            timing.append(
                {
                    **common,
                    "seconds": (submitted - start).total_seconds(),
                    "started_at": start,
                    "submitted_at": submitted,
                }
            )

    add_reading(RaterKind.CONSENSUS, CONSENSUS_READER, consensus_session, 0.0, 0.0, 0)
    for s_i, session in enumerate(sessions):
        for name, sd in readers.items():
            add_reading(RaterKind.READER, name, session, sd, 2.0 + sd / 2, 7 + 42 * s_i)
    if ai_noise is not None:
        for (case, lv), true in truth.items():
            raw = [v + rng.normal(0, ai_noise) for v in true]
            shown = make_consistent(*(round_to_grid(v) for v in raw))
            for pattern, out, score in zip(Pattern, raw, shown):
                ai_rows.append(
                    {
                        "case": case,
                        "bundle": bundle,
                        "level": lv,
                        "pattern": pattern.value,
                        "output": round(float(out), 3),
                        "score": score,
                        "heatmap_score": round(float(0.8 * out + rng.normal(0, 3)), 3),
                        "heatmap_threshold": -0.6,
                    }
                )
            positions.append(
                {
                    "case": case,
                    "rater_kind": RaterKind.AI.value,
                    "reader": bundle,
                    "session": "",
                    "level": lv,
                    "z_mm": round(true_z[(case, lv)] + rng.normal(0, 4), 1),
                }
            )
    for name in likert_readers:
        for case, lv in truth:
            for pattern in Pattern:
                p = np.array([0.02, 0.05, 0.1, 0.4, 0.43])
                likert.append(
                    {
                        "case": case,
                        "rater_kind": RaterKind.READER.value,
                        "reader": name,
                        "session": "HM",
                        "level": lv,
                        "pattern": pattern.value,
                        "rating": int(rng.choice(LIKERT_SCALE, p=p)),
                    }
                )
    return StudyTables.build(
        ratings=ratings,
        levels=positions,
        likert=likert,
        timing=timing,
        ai=ai_rows,
        description=StudyDescription(title="Simulated reader study"),
    )
