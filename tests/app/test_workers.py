"""The background task runner: results, progress, partial results, errors, cancellation, request ids."""

from __future__ import annotations

import threading

import pytest

from app.workers import TaskRunner
from ssc_core.errors import Cancelled, NoImagesFound
from ssc_core.progress import Progress, check_cancel, report

pytestmark = pytest.mark.gui


@pytest.fixture
def runner(qtbot):
    r = TaskRunner()
    yield r
    assert r.shutdown(5000)


def _sum(values, *, progress=None, cancel=None):
    total = 0
    for i, v in enumerate(values):
        check_cancel(cancel)
        total += v
        report(progress, i + 1, len(values), "adding")
    return total


def test_function_result_and_progress(qtbot, runner):
    seen = []
    task = runner.submit("sum", _sum, [1, 2, 3])
    task.progressed.connect(lambda rid, p: seen.append((rid, p)))
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        pass
    result = blocker.args[0]
    assert result.ok
    assert result.value == 6
    assert result.request_id == task.request_id
    assert seen
    assert seen[-1][1] == Progress(3, 3, "adding")
    assert all(rid == task.request_id for rid, _ in seen)
    qtbot.waitUntil(lambda: runner.active_count == 0)


def test_generator_work_and_partial_results(qtbot, runner):
    def gen(n, *, progress=None, cancel=None, partial=None):
        for i in range(n):
            if i == 0:
                partial("first")
            yield Progress(i + 1, n)
        return "done"

    partials = []
    task = runner.submit("gen", gen, 4, partial=True)
    task.partial.connect(lambda rid, v: partials.append(v))
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        pass
    assert blocker.args[0].value == "done"
    assert partials == ["first"]


def test_errors_are_delivered_not_raised(qtbot, runner):
    def fail(*, progress=None, cancel=None):
        raise NoImagesFound("No CT images in this folder.")

    task = runner.submit("fail", fail)
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        pass
    result = blocker.args[0]
    assert not result.ok
    assert isinstance(result.error, NoImagesFound)


def test_cancel_stops_the_work(qtbot, runner):
    started = threading.Event()
    release = threading.Event()

    def slow(*, progress=None, cancel=None):
        started.set()
        while not cancel.cancelled:
            release.wait(0.01)
        raise Cancelled()

    task = runner.submit("slow", slow)
    assert started.wait(5)
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        task.cancel()
    assert blocker.args[0].cancelled
    qtbot.waitUntil(lambda: runner.active_count == 0)


def test_each_task_has_its_own_request_id(qtbot, runner):
    a = runner.submit("a", _sum, [1])
    b = runner.submit("b", _sum, [2])
    assert a.request_id != b.request_id
    with qtbot.waitSignals([a.finished, b.finished], timeout=5000):
        pass
