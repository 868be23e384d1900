"""Writing phantoms to disk: one patient (DICOM series or MHA) or a labelled cohort.

A cohort folder holds one entry per patient (``PH0001/`` with the DICOM files, or ``PH0001.mha``), the
label workbook ``GohScores.xlsx`` in the authors' format (``PatID``, ``L{n}_pos``, ``L{n}_disext``,
``L{n}_gg``, ``L{n}_retp``) and ``cohort.json`` with the generator version, the seeds and each patient's
exact truth (level z, percentages, landmarks), so the cohort can be regenerated and audited. Each patient
is written to a hidden temporary name and renamed when complete: an interrupted run leaves whole patients
only.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ssc_core.constants import LEVELS
from ssc_core.errors import Cancelled, OutputNotEmpty
from ssc_core.fileio import atomic_write
from ssc_core.imaging.phantom.disease import DiseaseSpec
from ssc_core.imaging.phantom.generate import PHANTOM_VERSION, Phantom, generate_phantom
from ssc_core.progress import CancelToken, Progress, ProgressCallback, check_cancel, report

FORMATS = ("dicom", "mha")
LABEL_WORKBOOK = "GohScores.xlsx"
MANIFEST = "cohort.json"
#: Fixed study date of phantom DICOM files, so that the same seed gives the same bytes.
PHANTOM_STUDY_DATE = "20000101"
#: Share of healthy patients in a mixed cohort.
HEALTHY_SHARE = 0.25


def patient_id(index: int) -> str:
    """Pseudonym of the ``index``-th (0-based) patient of a cohort: PH0001, PH0002, ..."""
    return f"PH{index + 1:04d}"


def patient_seed(cohort_seed: int, index: int) -> int:
    """Seed of patient ``index`` of the cohort drawn from ``cohort_seed`` (independent streams)."""
    return int(np.random.SeedSequence([int(cohort_seed), int(index), 0xC047]).generate_state(1)[0])


def write_phantom(
    phantom: Phantom,
    out_dir: str | os.PathLike[str],
    *,
    format: str = "dicom",
    pseudonym: str = "PHANTOM",
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Write one phantom under ``out_dir`` and return what was written.

    ``format="dicom"`` writes a de-identified CT series into the folder ``out_dir/<pseudonym>/`` (patient
    name and ID = ``pseudonym``; UIDs derived from the seed, the geometry and the pseudonym, so the same call
    gives the same bytes); ``format="mha"`` writes ``out_dir/<pseudonym>.mha``. The target is replaced if
    it exists; it appears only once complete.
    """
    from ssc_core.imaging.dicom_writer import write_dicom_series
    from ssc_core.imaging.volume_writer import write_volume

    fmt = format.lower()
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    _check_pseudonym(pseudonym)
    root = Path(out_dir)
    root.mkdir(parents=True, exist_ok=True)
    vol = phantom.volume
    if fmt == "mha":
        target = root / f"{pseudonym}.mha"
        with atomic_write(target) as tmp:
            write_volume(vol, tmp)
        report(progress, 1, 1, "Writing MHA")
        return target
    target = root / pseudonym
    tmp_dir = root / f".{pseudonym}.partial-{os.getpid()}"
    if tmp_dir.exists():
        shutil.rmtree(tmp_dir)
    uid_seed = (
        f"ssc-phantom-v{PHANTOM_VERSION}/{phantom.seed}/{vol.shape}/{vol.spacing}/"
        f"{'healthy' if phantom.disease is None else phantom.disease}/{pseudonym}"
    )
    try:
        write_dicom_series(
            vol,
            tmp_dir,
            series_description=vol.info.description,
            kernel=vol.info.kernel,
            patient_pseudonym=pseudonym,
            uid_seed=uid_seed,
            extra={
                "StudyDate": PHANTOM_STUDY_DATE,
                "SeriesDate": PHANTOM_STUDY_DATE,
                "StudyTime": "120000",
                "SeriesTime": "120000",
                "BodyPartExamined": "CHEST",
                "StudyDescription": "Synthetic chest CT (SSc Scoring Workstation phantom)",
                "ImageComments": f"Synthetic phantom v{PHANTOM_VERSION}, seed {phantom.seed}; not a patient",
            },
            progress=progress,
            cancel=cancel,
        )
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp_dir, target)
    finally:
        if tmp_dir.exists():
            shutil.rmtree(tmp_dir, ignore_errors=True)
    return target


@dataclass(frozen=True)
class CohortPatient:
    """One written patient: pseudonym, seed, where its image is, and whether it is healthy."""

    pat_id: str
    seed: int
    path: Path
    healthy: bool


@dataclass(frozen=True)
class Cohort:
    """What :func:`write_cohort` wrote."""

    folder: Path
    patients: tuple[CohortPatient, ...]
    label_workbook: Path
    manifest: Path


def cohort_diseases(
    n_patients: int, seed: int, disease: str | DiseaseSpec | None = "mixed"
) -> list[DiseaseSpec | None]:
    """The disease of each patient of a cohort.

    ``"mixed"``: a quarter healthy (at least one when there are four or more patients), the others
    SSc-like with severities spread evenly over mild, moderate and severe (so that a scorer sees many levels
    with TOT > 0 and a range of extents); ``"healthy"`` or None: all healthy; a :class:`DiseaseSpec`: that
    disease for everyone.
    """
    if isinstance(disease, DiseaseSpec):
        return [disease] * n_patients
    if disease is None or disease == "healthy":
        return [None] * n_patients
    if disease != "mixed":
        raise ValueError(f"disease must be 'mixed', 'healthy' or a DiseaseSpec, got {disease!r}")
    rng = np.random.default_rng([int(seed), 0xC0407])
    n_healthy = round(n_patients * HEALTHY_SHARE) if n_patients >= 4 else 0
    severities = ["mild", "moderate", "severe"]
    kinds: list[str | None] = [None] * n_healthy + [severities[i % 3] for i in range(n_patients - n_healthy)]
    order = rng.permutation(n_patients)
    out: list[DiseaseSpec | None] = []
    for i in order:
        sev = kinds[int(i)]
        out.append(None if sev is None else DiseaseSpec.random(rng, severity=sev))
    return out


def write_cohort(
    out_dir: str | os.PathLike[str],
    n_patients: int,
    seed: int,
    format: str = "dicom",
    *,
    disease: str | DiseaseSpec | None = "mixed",
    slice_spacing_mm: float = 2.5,
    matrix: int = 512,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Cohort:
    """Generate and write ``n_patients`` phantoms with their label workbook and manifest.

    Parameters
    ----------
    out_dir
        Folder to write into; it must be empty or new unless ``overwrite``.
    n_patients, seed
        Cohort size and seed (patient i gets :func:`patient_seed` (seed, i)).
    format
        ``"dicom"`` (a folder of files per patient) or ``"mha"`` (one file per patient).
    disease
        See :func:`cohort_diseases`.
    slice_spacing_mm
        Slice spacing of every phantom.
    matrix
        Pixels per side (512 for real use; smaller for quick previews and tests).
    progress, cancel
        Progress over all steps; on cancel, the patients completed so far keep their labels (the workbook
        and manifest are written for them) and :class:`~ssc_core.errors.Cancelled` is raised.
    """
    from ssc_core.analysis.authors_formats import LabelRow

    if n_patients < 1:
        raise ValueError("a cohort needs at least one patient")
    if int(seed) != seed or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    fmt = format.lower()
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    root = Path(out_dir)
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise OutputNotEmpty(
            f"The folder {root.name!r} is not empty; the phantom cohort would mix with its files."
        )
    root.mkdir(parents=True, exist_ok=True)
    diseases = cohort_diseases(n_patients, seed, disease)
    total = 2 * n_patients + 1
    rows: list[LabelRow] = []
    written: list[CohortPatient] = []
    records: list[dict[str, object]] = []
    step = 0

    def sub(label: str, base: int) -> Callable[[Progress], None]:
        def cb(p: Progress) -> None:
            frac = p.fraction or 0.0
            report(progress, base * 1000 + int(frac * 1000), total * 1000, label)

        return cb

    try:
        for i in range(n_patients):
            check_cancel(cancel)
            pid = patient_id(i)
            pseed = patient_seed(seed, i)
            label = f"Patient {i + 1} of {n_patients}"
            ph = generate_phantom(
                pseed,
                slice_spacing_mm=slice_spacing_mm,
                disease=diseases[i],
                matrix=matrix,
                progress=sub(f"{label}: generating", step),
                cancel=cancel,
            )
            step += 1
            path = write_phantom(
                ph, root, format=fmt, pseudonym=pid, progress=sub(f"{label}: writing", step), cancel=cancel
            )
            step += 1
            report(progress, step * 1000, total * 1000, f"{label}: done")
            slice_z = ph.volume.slice_z
            positions = {lv: float(slice_z[k]) for lv, k in ph.level_slices.items()}
            rows.append(LabelRow(pat_id=pid, positions=positions, scores=dict(ph.level_scores)))
            written.append(CohortPatient(pid, pseed, path, ph.healthy))
            records.append(_manifest_record(ph, pid, path.relative_to(root)))
    except (Cancelled, KeyboardInterrupt):  # Ctrl+C in the CLI: keep the finished patients' labels too
        if rows:
            _write_labels(root, rows, records, seed, fmt, slice_spacing_mm, n_patients)
        raise
    book, manifest = _write_labels(root, rows, records, seed, fmt, slice_spacing_mm, n_patients)
    report(progress, total * 1000, total * 1000, "Cohort written")
    return Cohort(root, tuple(written), book, manifest)


def _write_labels(
    root: Path, rows, records, seed: int, fmt: str, spacing: float, requested: int
) -> tuple[Path, Path]:
    from ssc_core.analysis.authors_formats import write_label_workbook

    book = write_label_workbook(rows, root / LABEL_WORKBOOK)
    manifest = root / MANIFEST
    data = {
        "generator": "ssc_core.imaging.phantom",
        "phantom_version": PHANTOM_VERSION,
        "cohort_seed": int(seed),
        "format": fmt,
        "slice_spacing_mm": spacing,
        "patients_requested": requested,
        "patients": records,
    }
    with atomic_write(manifest) as tmp:
        tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return book, manifest


def _manifest_record(ph: Phantom, pid: str, rel: Path) -> dict[str, object]:
    idx = ph.level_slices
    return {
        "PatID": pid,
        "seed": ph.seed,
        "path": rel.as_posix(),
        "healthy": ph.healthy,
        "disease": None if ph.disease is None else asdict(ph.disease),
        "shape": list(ph.volume.shape),
        "spacing_mm": list(ph.volume.spacing),
        "levels": {
            lv.label: {
                "z_mm": round(ph.level_z[lv], 3),
                "slice": idx[lv],
                "slice_z_mm": round(float(ph.volume.slice_z[idx[lv]]), 3),
                "tot_pct": round(float(ph.tot_percent[idx[lv]]), 3),
                "gg_pct": round(float(ph.gg_percent[idx[lv]]), 3),
                "ret_pct": round(float(ph.ret_percent[idx[lv]]), 3),
                "scores": ph.level_scores[lv].as_dict(),
            }
            for lv in LEVELS
        },
        "landmarks_z_mm": {k: round(float(v), 3) for k, v in ph.landmarks.items()},
    }


def _check_pseudonym(name: str) -> None:
    if not name or any(c in name for c in '/\\:*?"<>|') or name.startswith("."):
        raise ValueError(f"{name!r} cannot be used as a pseudonym and file name")
