"""Batch scoring of many scans (or single slices) into one spreadsheet, optionally sharded under torchrun.

* :func:`score_scan` runs the cascade on one scan and returns one :class:`ScoreRow` per level;
* :func:`score_slice_file` scores the axial slice(s) in one file with the scorer alone (no level finder);
* :func:`run_batch` does either for a list of paths, reports errors per case without stopping, writes
  heat maps when asked, and, under ``torchrun``, gives each rank a share of the cases and merges the rows on
  rank 0, which writes the workbook (:func:`write_workbook`).

The ``case`` column is the path exactly as the user gave it; nothing is read from the DICOM headers into
the results, so no patient identifier can reach the spreadsheet that the user did not put in a file name.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ssc_core import RESEARCH_USE_NOTICE, __version__
from ssc_core.errors import Cancelled, SSCError

#: Columns of the results sheet, in order.
ROW_COLUMNS = (
    "case",
    "level",
    "status",
    "world_z_mm",
    "slice_index",
    "raw_TOT",
    "raw_GG",
    "raw_RET",
    "TOT",
    "GG",
    "RET",
    "lung_fraction",
    "no_lung",
    "outside",
    "heatmap_TOT",
    "heatmap_GG",
    "heatmap_RET",
    "heatmap_file",
    "error",
    "warnings",
)


@dataclass(frozen=True)
class ScoreRow:
    """One row of the results: a level of a scan (cascade) or one slice (``--slices``)."""

    case: str
    level: str = ""
    status: str = "ok"
    world_z_mm: float | None = None
    slice_index: int | None = None
    raw_TOT: float | None = None  # field names = the spreadsheet columns
    raw_GG: float | None = None
    raw_RET: float | None = None
    TOT: int | None = None
    GG: int | None = None
    RET: int | None = None
    lung_fraction: float | None = None
    no_lung: bool = False
    outside: bool = False
    heatmap_TOT: float | None = None
    heatmap_GG: float | None = None
    heatmap_RET: float | None = None
    heatmap_file: str = ""
    error: str = ""
    #: What the loader warned about the scan (e.g. a folder with series of several examinations, of which
    #: only the default one was scored), so that a batch reader sees it beside the scores.
    warnings: str = ""
    #: Position of the case in the input list (keeps the merged order under torchrun; not a column).
    order: int = 0

    def as_record(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: d[k] for k in ROW_COLUMNS}


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, SSCError):
        return str(exc)
    return f"unexpected error ({type(exc).__name__}): {exc}"


def _safe_stem(text: str) -> str:
    name = Path(text.rstrip("/\\")).name or "case"
    for suffix in (".nii.gz", ".nii", ".mha", ".mhd", ".nrrd", ".dcm"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return keep[:60] or "case"


def _write_heatmap(path: Path, heat: Any, world_z: float | None) -> None:
    from ssc_core.fileio import atomic_write

    with atomic_write(path, suffix=".npz") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh,
            values=heat.values,
            covered=heat.covered,
            patterns=np.array(["TOT", "GG", "RET"]),
            base_scores=np.asarray(heat.base_scores, dtype=np.float64),
            derived=np.asarray(heat.derived, dtype=np.float64),
            threshold=np.float64(heat.threshold),
            slice_index=np.int64(heat.slice_index),
            world_z=np.float64(np.nan if world_z is None else world_z),
            bundle_hash=np.array(heat.bundle_hash),
            notice=np.array(RESEARCH_USE_NOTICE),
        )


def score_scan(
    runner: Any,
    path: str,
    *,
    order: int = 0,
    heatmap_dir: Path | None = None,
    cancel: Any = None,
) -> list[ScoreRow]:
    """The cascade on one scan: five rows (one per level), or one error row.

    ``runner`` is a :class:`~ssc_core.ai.cascade.CascadeRunner`. Heat maps of every scored level are
    computed and written to ``heatmap_dir`` as ``NNNN_<name>_L<n>.npz`` when it is given.
    """
    from ssc_core.ai.cascade import CascadeDone, CascadeRequest
    from ssc_core.constants import LEVELS
    from ssc_core.imaging.loader import load_scan

    try:
        volume = load_scan(path, cancel=cancel).volume
        request = CascadeRequest(
            case_id=path, volume=volume, request_id=order, heatmaps=LEVELS if heatmap_dir else ()
        )
        done = None
        for event in runner.run(request, cancel):
            if isinstance(event, CascadeDone):
                done = event
        assert done is not None
    except Cancelled:
        raise
    except Exception as exc:  # one broken case must not stop the batch
        return [ScoreRow(case=path, status="error", error=_error_text(exc), order=order)]

    heat_by_level = {h.level: h for h in done.heatmaps}
    rows = []
    for r in done.result.levels:
        f = r.finding
        fields: dict[str, Any] = {
            "case": path,
            "level": r.level.label,
            "world_z_mm": f.world_z,
            "slice_index": f.slice_index,
            "lung_fraction": r.lung_fraction,
            "outside": r.outside,
            "no_lung": r.no_lung,
            "order": order,
            "warnings": "; ".join(volume.warnings),
        }
        if r.outside:
            fields["status"] = f.status.value
        elif r.scores is None:
            fields["status"] = "no lung"
        else:
            s = r.scores
            fields.update(
                raw_TOT=s.raw_tot, raw_GG=s.raw_gg, raw_RET=s.raw_ret, TOT=s.tot, GG=s.gg, RET=s.ret
            )
        heat = heat_by_level.get(r.level)
        if heat is not None and heatmap_dir is not None:
            target = heatmap_dir / f"{order:04d}_{_safe_stem(path)}_{r.level.label}.npz"
            _write_heatmap(target, heat, f.world_z)
            fields.update(
                heatmap_TOT=heat.derived[0],
                heatmap_GG=heat.derived[1],
                heatmap_RET=heat.derived[2],
                heatmap_file=str(target),
            )
        rows.append(ScoreRow(**fields))
    return rows


def _dicom_slice_z(path: str) -> float | None:
    """World z of a single DICOM file's slice (None for a volume file)."""
    from ssc_core.imaging.sitk_formats import is_volume_file

    if is_volume_file(path):
        return None
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["ImagePositionPatient"])
    pos = getattr(ds, "ImagePositionPatient", None)
    return None if pos is None else float(pos[2])


def score_slice_file(runner: Any, path: str, *, order: int = 0, cancel: Any = None) -> list[ScoreRow]:
    """Score the axial slice in a DICOM file (or every slice of a volume file) with the scorer alone."""
    from ssc_core.imaging.loader import load_scan
    from ssc_core.progress import check_cancel

    try:
        volume = load_scan(path, cancel=cancel).volume
        z = _dicom_slice_z(path)
        if z is not None:
            k = volume.nearest_slice(z)
            indices = [k] if k is not None else []
            if not indices:
                raise SSCError("The slice of this file is not in the series it belongs to.")
        else:
            indices = list(range(volume.n_slices))
        rows = []
        _, dy, dx = volume.spacing
        for k in indices:
            check_cancel(cancel)
            scores, frac = runner.score_slice(volume.axial(k), (dy, dx))
            fields: dict[str, Any] = {
                "case": path,
                "world_z_mm": float(volume.slice_z[k]),
                "slice_index": k,
                "lung_fraction": frac,
                "order": order,
            }
            if scores is None:
                fields.update(status="no lung", no_lung=True)
            else:
                fields.update(
                    raw_TOT=scores.raw_tot,
                    raw_GG=scores.raw_gg,
                    raw_RET=scores.raw_ret,
                    TOT=scores.tot,
                    GG=scores.gg,
                    RET=scores.ret,
                )
            rows.append(ScoreRow(**fields))
        return rows
    except Cancelled:
        raise
    except Exception as exc:  # one broken file must not stop the batch
        return [ScoreRow(case=path, status="error", error=_error_text(exc), order=order)]


# --- torchrun ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """This process's place in a torchrun launch (rank 0 of 1 when run alone)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def share(self, items: Sequence[Any]) -> list[tuple[int, Any]]:
        """(index, item) pairs of this rank: every ``world``-th item from ``rank``."""
        return [(i, item) for i, item in enumerate(items) if i % self.world == self.rank]


def shard_from_env() -> Shard:
    """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK / LOCAL_WORLD_SIZE (defaults: one process)."""
    env = os.environ
    return Shard(
        rank=int(env.get("RANK", 0)),
        world=int(env.get("WORLD_SIZE", 1)),
        local_rank=int(env.get("LOCAL_RANK", 0)),
        local_world=int(env.get("LOCAL_WORLD_SIZE", 1)),
    )


def _init_distributed(shard: Shard) -> str:
    """Join the process group; returns the device for this rank ("cuda:<local rank>" or "cpu")."""
    import torch
    import torch.distributed as dist

    use_cuda = torch.cuda.is_available()
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if use_cuda else "gloo")
    if use_cuda:
        torch.cuda.set_device(shard.local_rank)
        return f"cuda:{shard.local_rank}"
    # Ranks on one machine share its cores.
    from ssc_core.ai.device import available_cores

    torch.set_num_threads(max(1, available_cores() // max(1, shard.local_world)))
    return "cpu"


def _gather_rows(shard: Shard, rows: list[ScoreRow]) -> list[ScoreRow] | None:
    """All ranks' rows on rank 0 (None elsewhere), in input order."""
    import torch.distributed as dist

    gathered: list[list[ScoreRow]] | None = [[] for _ in range(shard.world)] if shard.rank == 0 else None
    dist.gather_object(rows, gathered, dst=0)
    if gathered is None:
        return None
    merged = [r for part in gathered for r in part]
    return sorted(merged, key=lambda r: r.order)


# --- the batch -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BatchSummary:
    """What a batch did (returned on every rank; ``rows`` complete on rank 0)."""

    rows: tuple[ScoreRow, ...]
    cases: int
    failed: int
    bundle_name: str
    bundle_hash: str
    seconds: float
    shard: Shard


def run_batch(
    paths: Sequence[str],
    *,
    bundle: str | os.PathLike[str] | None,
    out: str | os.PathLike[str] | None,
    slices: bool = False,
    heatmap_dir: str | os.PathLike[str] | None = None,
    device: str | None = None,
    on_case: Callable[[int, int, str, list[ScoreRow]], None] | None = None,
    cancel: Any = None,
) -> BatchSummary:
    """Score every path (cascade, or ``slices``: scorer only) and write the workbook on rank 0.

    ``on_case(done, total, path, rows)`` is called after each of this rank's cases (for a progress bar).
    Errors of a case become an error row; the batch goes on.
    """
    from ssc_core.ai.bundle import load_bundle
    from ssc_core.ai.cascade import CascadeRunner

    t0 = time.perf_counter()
    shard = shard_from_env()
    if shard.distributed:
        device = _init_distributed(shard)
    try:
        loaded = load_bundle(bundle)
        runner = CascadeRunner(loaded, device=device)
        heat_dir = Path(heatmap_dir) if heatmap_dir is not None else None
        if heat_dir is not None:
            heat_dir.mkdir(parents=True, exist_ok=True)
        mine = shard.share(paths)
        rows: list[ScoreRow] = []
        for done, (i, path) in enumerate(mine, start=1):
            if slices:
                case_rows = score_slice_file(runner, path, order=i, cancel=cancel)
            else:
                case_rows = score_scan(runner, path, order=i, heatmap_dir=heat_dir, cancel=cancel)
            rows.extend(case_rows)
            if on_case is not None:
                on_case(done, len(mine), path, case_rows)
        all_rows: list[ScoreRow] | None = rows
        if shard.distributed:
            all_rows = _gather_rows(shard, rows)
        if all_rows is not None and out is not None:
            write_workbook(
                all_rows,
                out,
                bundle_name=loaded.display_name,
                bundle_hash=loaded.hash,
                mode="slices" if slices else "cascade",
                ranks=shard.world,
            )
        final = all_rows if all_rows is not None else rows
        failed_cases = {r.order for r in final if r.status == "error"}
        return BatchSummary(
            rows=tuple(final),
            cases=len(paths) if shard.rank == 0 else len(mine),
            failed=len(failed_cases),
            bundle_name=loaded.display_name,
            bundle_hash=loaded.hash,
            seconds=time.perf_counter() - t0,
            shard=shard,
        )
    finally:
        if shard.distributed:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()


def write_workbook(
    rows: Sequence[ScoreRow],
    out: str | os.PathLike[str],
    *,
    bundle_name: str,
    bundle_hash: str,
    mode: str,
    ranks: int = 1,
) -> Path:
    """Write the results (sheet "scores") and what produced them (sheet "about") to an .xlsx file."""
    import datetime

    import pandas as pd

    from ssc_core.fileio import atomic_write

    target = Path(out)
    scores = pd.DataFrame([r.as_record() for r in rows], columns=list(ROW_COLUMNS))
    about = pd.DataFrame(
        [
            ("notice", RESEARCH_USE_NOTICE),
            ("model bundle", bundle_name),
            ("bundle hash (SHA-256)", bundle_hash),
            ("mode", mode),
            ("cases", len({r.order for r in rows})),
            ("cases with errors", len({r.order for r in rows if r.status == "error"})),
            ("processes", ranks),
            ("software", f"ssc {__version__}"),
            ("written", datetime.datetime.now().astimezone().isoformat(timespec="seconds")),
            ("slice_index", "0 = most cranial slice of the series (as loaded)"),
            ("world_z_mm", "DICOM patient z (LPS, +z towards the head)"),
            ("TOT/GG/RET", "rounded to the 5 % grid, clipped to 0..100, TOT consistent with GG and RET"),
            ("raw_*", "network output before rounding (percent of the lung area)"),
        ],
        columns=["item", "value"],
    )
    with atomic_write(target, suffix=".xlsx") as tmp, pd.ExcelWriter(tmp, engine="openpyxl") as xl:
        scores.to_excel(xl, sheet_name="scores", index=False)
        about.to_excel(xl, sheet_name="about", index=False)
    return target
