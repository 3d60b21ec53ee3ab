"""The watch of a cluster (dashboard.jobs.job_watch) against a stand-in scheduler: what it asks, what it makes of it.

`Scheduler` answers `run_on_scheduler` with the plain data `job_health.cluster_snapshot` returns
(or fails as a scheduler without the app's code would); progress events are fed as Dask delivers them.
"""

from __future__ import annotations

import time

import pytest

from dashboard.jobs.job_health import NO_SCHEDULER, NO_WORKER, OK, TRAIN_PREFIX, cluster_snapshot
from dashboard.jobs.job_watch import ClusterWatch

ADDRESS = "tcp://127.0.0.1:8786"
W1 = "tcp://127.0.0.1:4001"


class Scheduler:
    """Enough of a Dask client: a scheduler address, a status, and answers to the watch's questions."""

    def __init__(self, snapshot: dict | None = None, runs_snapshot: bool = True):
        self.status = "running"
        self.scheduler = type("S", (), {"address": ADDRESS})()
        self.snapshot, self.runs_snapshot = snapshot or {"workers": [], "tasks": [], "retries": 1}, runs_snapshot
        self.asked = 0

    def run_on_scheduler(self, function, callback_timeout=None):
        assert function is cluster_snapshot and callback_timeout
        self.asked += 1
        if not self.runs_snapshot:
            raise ModuleNotFoundError("No module named 'dashboard'")
        return self.snapshot

    def scheduler_info(self, n_workers=5):
        assert n_workers == -1  # every worker, not Dask's default five
        return {"workers": {W1: {"nthreads": 2}}}


def snapshot(executing: list[str], line: list[str]) -> dict:
    tasks = [{"key": TRAIN_PREFIX + job, "state": "processing", "worker": W1, "priority": [0, i, 0], "lost": 0}
             for i, job in enumerate(executing)]
    tasks += [{"key": TRAIN_PREFIX + job, "state": "queued", "worker": "", "priority": [0, 10 + i, 0], "lost": 0}
              for i, job in enumerate(line)]
    return {"workers": [{"address": W1, "threads": 1, "executing": [TRAIN_PREFIX + j for j in executing]}],
            "tasks": tasks, "retries": 1}


@pytest.fixture
def watched():
    views = []
    watch = ClusterWatch(views.append, busy=lambda: True)
    yield watch, views
    watch.close()


def until(predicate, timeout=10.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.02)


def test_places_and_waits_come_from_the_view_and_from_every_trainings_progress(watched):
    watch, views = watched
    client = Scheduler(snapshot(["run"], ["other", "mine"]))
    watch.follow(client, "cluster", slots=0)
    until(lambda: views)
    submitted = views[-1].asked - 1
    assert watch.queue("mine", submitted) == (2, None)  # nothing tells yet how long trainings take
    assert watch.queue("mine", views[-1].asked + 1) == (None, None)  # a view older than the job says nothing
    # another client's training reports its progress: a quarter done after 30 s, so 90 s to go
    watch.heard({"job": "run", "epoch": 1, "epochs": 1, "batch": 25, "batches": 100, "seconds": 30.0})
    place, (soonest, latest) = watch.queue("mine", submitted)
    assert place == 2 and 205 < soonest <= latest <= 210  # 90 s, then "other" as long as "run" (120 s)
    # "other" begins before the scheduler's next view: it no longer counts as ahead
    watch.heard({"job": "other", "state": "running", "where": W1})
    assert watch.queue("mine", submitted)[0] == 1
    watch.heard({"job": "run", "epoch": 1, "epochs": 1, "history": {}, "seconds": 118.0})  # its end: 118 s seen
    assert list(watch._durations) == [118.0]
    assert watch.health().sentence == "1 worker connected (1 training at once); 1 training, 1 waiting in line."


def test_a_client_cut_from_its_scheduler_says_so_at_once_with_where_jobs_go(watched):
    watch, views = watched
    client = Scheduler()
    watch.follow(client, "cluster", fallback="this server's worker processes")
    until(lambda: views)
    assert watch.health(waiting=1).state == NO_WORKER
    client.status = "connecting"  # Dask's client lost its connection and tries again
    health = watch.health(waiting=1)
    assert health.state == NO_SCHEDULER and health.sentence.startswith(f"The Dask scheduler at {ADDRESS} has not "
                                                                        "answered for 0 s.")
    assert "the jobs go to this server's worker processes instead" in health.sentence


def test_a_scheduler_without_the_apps_code_is_asked_for_its_workers_only(watched):
    watch, views = watched
    watch.follow(Scheduler(runs_snapshot=False), "cluster")
    until(lambda: views)
    assert views[-1].tasks is None and views[-1].threads == 2 and not watch.lists_tasks
    assert watch.queue("mine", 0.0) == (None, None)  # the manager falls back to its own line
    assert watch.health().state == OK and watch.health().sentence == "1 worker connected."
