"""The demo study: a few synthetic phantom patients set up as a small reader study.

It shows every part of the workstation on data that carries no patient: the scans are phantoms
(:mod:`ssc_core.imaging.phantom`), the consensus ("ground truth") session is the phantoms' exact truth
imported through the label workbook path (the same import an admin uses for the authors'
``GohScores.xlsx``), and a demo reader has an observer session, a repeat session behind its washout, and a
heat-map rating session.

Layout of a demo folder (``ensure_demo_study``)::

    demo/
        demo.sscstudy          the study file
        scans/PH0001/...       one DICOM series per phantom patient (+ GohScores.xlsx, cohort.json)
        demo-study.json        written last: the folder is complete only when it exists

A folder without a valid ``demo-study.json`` is a build that did not finish (the program was closed or
crashed): it is deleted and built again. ``build_demo_study`` is the same without the folder convention
(``ssc study demo --out FILE``).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ssc_core.constants import (
    DEMO_ADMIN_NAME,
    DEMO_COHORT_SEED,
    DEMO_CONSENSUS_READER_NAME,
    DEMO_CONSENSUS_SESSION,
    DEMO_OBSERVER_SESSION,
    DEMO_ORDER_SEED,
    DEMO_RATING_SESSION,
    DEMO_READER_NAME,
    DEMO_REPEAT_SESSION,
    DEMO_SLICE_SPACING_MM,
    DEMO_STUDY_NAME,
    DEMO_STUDY_PATIENTS,
    DEMO_STUDY_VERSION,
    STUDY_SUFFIX,
)
from ssc_core.errors import Cancelled, OutputNotEmpty, StudyError
from ssc_core.fileio import atomic_write
from ssc_core.progress import CancelToken, Progress, ProgressCallback, check_cancel, report

#: File names inside a demo folder.
DEMO_STUDY_FILE = "demo" + STUDY_SUFFIX
DEMO_SCANS_DIR = "scans"
DEMO_MANIFEST = "demo-study.json"

#: Share of the progress bar for each stage (generating and writing the phantoms dominates).
_COHORT_SHARE, _LOAD_SHARE = 0.8, 0.15


@dataclass(frozen=True)
class DemoStudy:
    """A built demo study: where it is, who reads, and the labels of its sessions."""

    study_path: Path
    scans_dir: Path
    n_patients: int
    matrix: int
    admin: str = DEMO_ADMIN_NAME
    reader: str = DEMO_READER_NAME
    consensus_session: str = DEMO_CONSENSUS_SESSION
    observer_session: str = DEMO_OBSERVER_SESSION
    repeat_session: str = DEMO_REPEAT_SESSION
    rating_session: str = DEMO_RATING_SESSION
    #: Hash of the demo AI bundle the rating session shows (None when no demo bundle is installed).
    bundle_hash: str | None = None


def demo_bundle_hash() -> str | None:
    """The hash of the installed demo AI bundle, or None when there is none (or the AI package lacks it).

    Only the bundle's spec and file hashes are read (no torch). A damaged bundle counts as absent here: the
    AI integration reports it properly when it is used.
    """
    try:
        from ssc_core.ai.bundle import default_bundle_path, inspect_bundle  # type: ignore[attr-defined]
    except ImportError:
        return None
    try:
        path = default_bundle_path()
        if not path.is_dir():
            return None
        _spec, bundle_hash = inspect_bundle(path)
    except Exception:  # any problem with the bundle: build the study without it
        return None
    return str(bundle_hash)


def _scaled(progress: ProgressCallback | None, start: float, share: float) -> Callable[[Progress], None]:
    """A progress callback mapping a sub-task's fraction onto [start, start + share] of 1000 steps."""

    def cb(p: Progress) -> None:
        frac = p.fraction or 0.0
        report(progress, int(1000 * (start + share * frac)), 1000, p.message)

    return cb


def build_demo_study(
    study_path: str | os.PathLike[str],
    *,
    scans_dir: str | os.PathLike[str] | None = None,
    n_patients: int = DEMO_STUDY_PATIENTS,
    matrix: int = 512,
    seed: int = DEMO_COHORT_SEED,
    slice_spacing_mm: float = DEMO_SLICE_SPACING_MM,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DemoStudy:
    """Generate the phantom patients and build the demo study around them.

    Parameters
    ----------
    study_path
        The new study file (refused if it exists).
    scans_dir
        Where the phantom DICOM series are written (default: ``<study name>_scans`` beside the study); it
        must be new or empty. The study refers to the scans there, so keep the two together.
    n_patients, matrix, seed, slice_spacing_mm
        The phantom cohort (see :func:`ssc_core.imaging.phantom.write_cohort`); tests use few, small ones.
    progress, cancel
        Progress over the whole build; ``cancel`` stops between steps (raising ``Cancelled``); what was
        written so far is then left for the caller to remove (:func:`ensure_demo_study` does).

    Returns
    -------
    DemoStudy
        With sessions: ``GT`` (closed consensus from the phantoms' truth, recorded by "Expert consensus"),
        ``T1`` (open observer session of the demo reader), ``T2`` (its repeat, open, behind the washout) and
        ``HM`` (open heat-map rating session; it shows the demo AI bundle's heat maps once they are cached).
    """
    from ssc_core.imaging.phantom import write_cohort
    from ssc_core.study.importers import import_label_workbook
    from ssc_core.study.scans import collect_case_sources, folder_entries
    from ssc_core.study.store import create_study

    study = Path(study_path)
    if study.exists():
        raise StudyError(f"{study.name} already exists; choose a new file for the demo study.")
    scans = Path(scans_dir) if scans_dir is not None else study.with_name(study.stem + "_scans")
    if scans.exists() and any(scans.iterdir()):
        raise OutputNotEmpty(f"The folder {scans.name!r} is not empty; the demo scans need a new folder.")

    report(progress, 0, 1000, "Creating the phantom patients")
    cohort = write_cohort(
        scans,
        n_patients,
        seed,
        "dicom",
        slice_spacing_mm=slice_spacing_mm,
        matrix=matrix,
        progress=_scaled(progress, 0.0, _COHORT_SHARE),
        cancel=cancel,
    )
    check_cancel(cancel)
    found = collect_case_sources(
        folder_entries(scans), progress=_scaled(progress, _COHORT_SHARE, _LOAD_SHARE), cancel=cancel
    )
    if found.failed or len(found.sources) != n_patients:
        raise StudyError(
            f"The demo scans did not load back ({len(found.sources)} of {n_patients}); "
            "the phantom generator and the loader disagree.",
            hint="Report this as a bug; delete the demo folder to try again.",
        )
    check_cancel(cancel)
    report(progress, int(1000 * (_COHORT_SHARE + _LOAD_SHARE)), 1000, "Setting up the study")
    bundle = demo_bundle_hash()
    with create_study(study, name=DEMO_STUDY_NAME, admin=DEMO_ADMIN_NAME) as store:
        admin = store.reader_by_name(DEMO_ADMIN_NAME).id
        store.add_cases(found.sources, by=admin)
        reader = store.add_reader(DEMO_READER_NAME, by=admin).id
        # The consensus is the phantoms' exact truth, through the same import as the authors' workbook.
        import_label_workbook(
            store,
            cohort.label_workbook,
            by=admin,
            label=DEMO_CONSENSUS_SESSION,
            reader=DEMO_CONSENSUS_READER_NAME,
        )
        t1 = store.add_session(
            DEMO_OBSERVER_SESSION, "observer", [reader], by=admin, order_seed=DEMO_ORDER_SEED
        )
        store.open_session(t1.id, by=admin)
        t2 = store.add_session(
            DEMO_REPEAT_SESSION,
            "observer",
            [reader],
            by=admin,
            order_seed=DEMO_ORDER_SEED + 1,
            repeat_of=t1.id,
        )
        store.open_session(t2.id, by=admin)
        hm = store.add_session(
            DEMO_RATING_SESSION,
            "heatmap",
            [reader],
            by=admin,
            order_seed=DEMO_ORDER_SEED + 2,
            ai_bundle=bundle,
        )
        store.open_session(hm.id, by=admin)
    report(progress, 1000, 1000, "Demo study ready")
    return DemoStudy(study, scans, n_patients, matrix, bundle_hash=bundle)


def read_demo_manifest(root: str | os.PathLike[str]) -> DemoStudy | None:
    """The demo study in folder ``root`` when it is complete and current, else None."""
    base = Path(root)
    try:
        data = json.loads((base / DEMO_MANIFEST).read_text(encoding="utf-8"))
        if int(data["version"]) != DEMO_STUDY_VERSION:
            return None
        from ssc_core.imaging.phantom import PHANTOM_VERSION

        if str(data["phantom_version"]) != str(PHANTOM_VERSION):
            return None
        demo = DemoStudy(
            study_path=base / DEMO_STUDY_FILE,
            scans_dir=base / DEMO_SCANS_DIR,
            n_patients=int(data["n_patients"]),
            matrix=int(data["matrix"]),
            bundle_hash=data.get("bundle_hash"),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not demo.study_path.is_file() or not demo.scans_dir.is_dir():
        return None
    patients = [p for p in demo.scans_dir.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if len(patients) != demo.n_patients:
        return None
    return demo


def ensure_demo_study(
    root: str | os.PathLike[str],
    *,
    n_patients: int = DEMO_STUDY_PATIENTS,
    matrix: int = 512,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> DemoStudy:
    """The demo study in folder ``root``: reused when complete, else (re)built there.

    A folder left by an unfinished build (no manifest, an older version, missing scans) is deleted first.
    On cancel or failure nothing is left at ``root``.
    """
    base = Path(root)
    existing = read_demo_manifest(base)
    if existing is not None:
        return existing
    if base.exists():
        shutil.rmtree(base)
    base.mkdir(parents=True)
    try:
        demo = build_demo_study(
            base / DEMO_STUDY_FILE,
            scans_dir=base / DEMO_SCANS_DIR,
            n_patients=n_patients,
            matrix=matrix,
            progress=progress,
            cancel=cancel,
        )
        from ssc_core.imaging.phantom import PHANTOM_VERSION

        record = {
            "version": DEMO_STUDY_VERSION,
            "phantom_version": str(PHANTOM_VERSION),
            "n_patients": n_patients,
            "matrix": matrix,
            "bundle_hash": demo.bundle_hash,
            "sessions": {k: v for k, v in asdict(demo).items() if k.endswith("_session")},
        }
        with atomic_write(base / DEMO_MANIFEST) as tmp:
            tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
        complete = read_demo_manifest(base)
        if complete is None:  # pragma: no cover - the manifest was just written
            raise StudyError("The demo study was built but cannot be read back.")
    except (Cancelled, KeyboardInterrupt, Exception):
        shutil.rmtree(base, ignore_errors=True)
        raise
    return complete


__all__ = [
    "DEMO_MANIFEST",
    "DEMO_SCANS_DIR",
    "DEMO_STUDY_FILE",
    "DemoStudy",
    "build_demo_study",
    "demo_bundle_hash",
    "ensure_demo_study",
    "read_demo_manifest",
]
