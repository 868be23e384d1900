"""The AI service process: loading a bundle, running units, cancelling within a second, stopping."""

from __future__ import annotations

import contextlib
import multiprocessing
import time

import pytest

from ssc_core.ai.cascade import CascadeDone, HeatmapReady, StageProgress
from ssc_core.ai.precompute import WorkUnit
from ssc_core.ai.service import (
    BundleFailed,
    BundleReady,
    CancelUnit,
    LoadBundle,
    RunUnit,
    ServiceStarted,
    Stop,
    UnitFinished,
    serve,
)
from ssc_core.constants import LEVELS
from ssc_core.study.records import ScanSource
from tests.core.ai.chest import chest_volume


@pytest.fixture
def service():
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(child,), daemon=True)
    proc.start()
    child.close()
    yield proc, parent
    if proc.is_alive():
        with contextlib.suppress(OSError):
            parent.send(Stop())
        proc.join(5)
    if proc.is_alive():
        proc.kill()


def recv(conn, kind, timeout=60.0):
    """Messages up to the first of ``kind`` (returned last)."""
    out = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if conn.poll(0.05):
            msg = conn.recv()
            out.append(msg)
            if isinstance(msg, kind):
                return out
    raise AssertionError(f"no {kind.__name__} within {timeout} s; got {[type(m).__name__ for m in out]}")


@pytest.fixture
def scan(tmp_path):
    from ssc_core.imaging.volume_writer import write_volume

    path = tmp_path / "chest.mha"
    write_volume(chest_volume(n_slices=60, size=128), path)
    return ScanSource("C-TEST", str(path))


def test_units_run_cancel_within_a_second_and_the_service_stops(service, scan, small_bundle_dir, bundle_copy):
    proc, conn = service
    assert isinstance(recv(conn, ServiceStarted)[-1], ServiceStarted)

    # a damaged bundle is refused with the reason; the service lives on
    (bundle_copy / "scorer.safetensors").write_bytes(b"not a network")
    conn.send(LoadBundle(str(bundle_copy)))
    failed = recv(conn, BundleFailed)[-1]
    assert "does not match the bundle spec" in failed.message
    assert str(bundle_copy) not in failed.message

    conn.send(LoadBundle(str(small_bundle_dir)))
    info = recv(conn, BundleReady)[-1].info
    assert info.display_name == "test bundle"
    assert info.threads >= 1

    conn.send(RunUnit(WorkUnit("C-TEST", scan, cascade=True, request_id=7)))
    msgs = recv(conn, UnitFinished)
    assert msgs[-1].status == "done"
    assert msgs[-1].request_id == 7
    done = next(m for m in msgs if isinstance(m, CascadeDone))
    assert done.case_id == "C-TEST"
    assert done.request_id == 7
    assert all(getattr(m, "request_id", 7) == 7 for m in msgs)

    # a long unit (every level's heat map, given slices) is cancelled within a second
    levels = {lv: 10 + 8 * i for i, lv in enumerate(LEVELS)}
    unit = WorkUnit("C-TEST", scan, cascade=False, heatmaps=tuple(LEVELS) * 20, levels=levels, request_id=8)
    conn.send(RunUnit(unit))
    recv(conn, StageProgress)
    t0 = time.monotonic()
    conn.send(CancelUnit(8))
    msgs = recv(conn, UnitFinished, timeout=10)
    elapsed = time.monotonic() - t0
    assert msgs[-1].status == "cancelled"
    assert elapsed < 1.0, elapsed

    # a scan that is gone: the unit fails with a reason that does not name the path
    gone = ScanSource("C-GONE", str(scan.location) + ".missing")
    conn.send(RunUnit(WorkUnit("C-GONE", gone, cascade=True, request_id=9)))
    failed = recv(conn, UnitFinished)[-1]
    assert failed.status == "failed"
    assert failed.message
    assert "chest.mha" not in failed.message

    conn.send(Stop())
    proc.join(10)
    assert not proc.is_alive()
    assert proc.exitcode == 0


def test_heatmap_units_use_the_given_slices(service, scan, small_bundle_dir):
    _proc, conn = service
    recv(conn, ServiceStarted)
    conn.send(LoadBundle(str(small_bundle_dir)))
    recv(conn, BundleReady)
    levels = {LEVELS[2]: 30}
    conn.send(
        RunUnit(WorkUnit("C-TEST", scan, cascade=False, heatmaps=(LEVELS[2],), levels=levels, request_id=3))
    )
    msgs = recv(conn, UnitFinished)
    ready = [m for m in msgs if isinstance(m, HeatmapReady)]
    assert len(ready) == 1
    assert ready[0].heatmap.level == LEVELS[2]
    assert ready[0].heatmap.slice_index == 30
    assert ready[0].heatmap.values.shape == (3, 128, 128)
    assert not any(isinstance(m, CascadeDone) for m in msgs)
