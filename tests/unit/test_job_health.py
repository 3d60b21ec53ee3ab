"""The cluster's health and its one queue from the scheduler's view (dashboard.jobs.job_health): pure, no cluster.

Views are built as the scheduler's snapshot would be (`read_snapshot` of plain data); a fake
scheduler object checks that `cluster_snapshot` reads Dask's own fields.
"""

from __future__ import annotations

import logging
import math
from types import SimpleNamespace

import pytest

from dashboard.jobs import job_health as h
from dashboard.jobs.job_status import JobStatus, wait_phrase

T0 = 1_000_000.0
W1, W2 = "tcp://127.0.0.1:4001", "tcp://127.0.0.1:4002"


def view(workers, tasks, asked=T0, retries=1):
    """A `ClusterView` from (address, threads, [executing job ids]) and (job, state, worker, priority, lost)."""
    raw = {"workers": [{"address": a, "threads": t, "executing": [h.TRAIN_PREFIX + j for j in ex]}
                       for a, t, ex in workers],
           "tasks": [{"key": h.TRAIN_PREFIX + j, "state": s, "worker": w, "priority": list(p), "lost": n}
                     for j, s, w, p, n in tasks],
           "retries": retries}
    return h.read_snapshot(raw, asked)


def test_the_snapshot_reads_every_clients_training_tasks_and_what_each_worker_executes():
    class Node(SimpleNamespace):
        __hash__ = object.__hash__  # Dask's TaskState and WorkerState are hashable objects

    def task(key, state, worker=None, priority=(0, 1, 0), suspicious=0):
        return Node(key=key, state=state, processing_on=worker, priority=priority, suspicious=suspicious)

    w1 = Node(address=W1, nthreads=1, executing={})
    running = task("convnet-train-a", "processing", w1, (0, 1, 0))
    w1.executing = {running: 3.2}
    scheduler = SimpleNamespace(workers={W1: w1}, allowed_failures=1, tasks={
        "convnet-train-a": running,
        "convnet-train-b": task("convnet-train-b", "processing", w1, (0, 2, 0)),  # on the worker, not executing
        "convnet-train-c": task("convnet-train-c", "queued", None, (0, 3, 0), 1),  # another client's, in line
        "convnet-train-d": task("convnet-train-d", "memory"),  # finished
        "convnet-data-x": task("convnet-data-x", "processing", w1),  # not a training
    })
    raw = h.cluster_snapshot(dask_scheduler=scheduler)
    as_sent = {**raw, "workers": tuple({**w, "executing": tuple(w["executing"])} for w in raw["workers"]),
               "tasks": tuple({**t, "priority": tuple(t["priority"])} for t in raw["tasks"])}
    assert h.read_snapshot(as_sent, T0) == h.read_snapshot(raw, T0)  # msgpack reads lists as tuples
    seen = h.read_snapshot(raw, T0)
    assert seen.executing == {"a": W1} and seen.threads == 1 and seen.retries == 1
    assert [t.job for t in seen.line()] == ["b", "c"]  # in the scheduler's priority order
    assert seen.place("b") == 1 and seen.place("c") == 2 and seen.place("a") is None and seen.place("d") is None
    assert seen.task("c").lost == 1 and seen.task("b").worker == W1


def test_the_schedulers_log_keeps_its_own_news_not_a_line_for_every_question(caplog):
    scheduler = SimpleNamespace(workers={}, tasks={}, allowed_failures=1)
    h.cluster_snapshot(dask_scheduler=scheduler)
    logger = logging.getLogger("distributed.worker")
    with caplog.at_level(logging.INFO, logger="distributed.worker"):
        logger.info("Run out-of-band function %r", "cluster_snapshot")  # what Dask logs for each question
        logger.info("Run out-of-band function %r", "something_else")
    assert [r.getMessage() for r in caplog.records] == ["Run out-of-band function 'something_else'"]


def test_places_follow_priorities_not_submission_to_this_server():
    # This server's job "mine" was submitted after another client's "cli" (lower generation): it is second.
    seen = view([(W1, 1, ["run"])], [("run", "processing", W1, (0, 1, 0), 0),
                                      ("mine", "queued", "", (0, 5, 0), 0),
                                      ("cli", "queued", "", (0, 4, 0), 0)])
    assert seen.place("cli") == 1 and seen.place("mine") == 2


@pytest.mark.parametrize("raw", [None, [], {"workers": "x"}, {"workers": [{"address": 1, "threads": 1, "executing": []}]},
                                 {"workers": [], "tasks": [{"key": "convnet-train-a", "priority": "high"}]},
                                 {"workers": [{"address": "a", "threads": True, "executing": []}]}])
def test_an_answer_that_is_not_the_snapshot_is_refused(raw):
    with pytest.raises(h.SnapshotError):
        h.read_snapshot(raw, T0)


def test_a_job_is_lost_when_the_scheduler_has_its_task_back_in_line_or_on_another_worker():
    heard = {"a": T0 - 1, "b": T0 - 1, "c": T0 - 1, "d": T0 + 1}
    running = {"a": W1, "b": W1, "c": W1, "d": W1}
    seen = view([(W2, 1, ["b"])], [("a", "queued", "", (0, 1, 0), 1),  # its worker died: back in line
                                   ("b", "processing", W2, (0, 2, 0), 1),  # already on the new worker
                                   ("d", "queued", "", (0, 4, 0), 1)], asked=T0)
    # c: its task is gone (finished or failed: its future says which); d: reported after the view was asked
    assert h.lost_jobs(seen, running, heard) == {"a": W1, "b": W1}
    still = view([(W1, 1, ["a"])], [("a", "processing", W1, (0, 1, 0), 0)])
    assert h.lost_jobs(still, {"a": W1}, {"a": T0 - 1}) == {}
    workers_only = h.workers_only([(W2, 1)], T0)  # a scheduler that lists its workers only
    assert h.lost_jobs(workers_only, {"a": W1, "b": W2}, {"a": T0 - 1, "b": T0 - 1}) == {"a": W1}


def test_a_job_that_lost_more_workers_than_dask_allows_fails_instead():
    seen = view([], [("a", "queued", "", (0, 1, 0), 1), ("b", "queued", "", (0, 2, 0), 2)], retries=1)
    assert not h.will_fail(seen, "a") and h.will_fail(seen, "b")


def test_the_remaining_time_of_a_running_training_is_projected_from_its_pace():
    assert h.remaining(h.Progress(0.25, 30.0, T0), T0) == pytest.approx(90.0)
    assert h.remaining(h.Progress(0.25, 30.0, T0), T0 + 10) == pytest.approx(80.0)  # time since the report counts
    assert h.remaining(h.Progress(0.01, 1.0, T0), T0) is None  # too early to tell
    assert h.remaining(None, T0) is None


def test_the_expected_wait_adds_the_jobs_ahead_to_the_running_ones_on_the_free_workers():
    assert h.expected_wait(0, [], 1, []) == (0.0, 0.0)  # a free worker: starts now
    assert h.expected_wait(0, [100.0], 1, []) == (100.0, 100.0)
    assert h.expected_wait(2, [100.0], 1, [60.0, 120.0]) == (220.0, 340.0)
    assert h.expected_wait(1, [100.0, 10.0], 2, [60.0]) == (70.0, 70.0)  # two workers share the line
    assert h.expected_wait(2, [100.0, 10.0], 2, [60.0]) == (100.0, 100.0)
    assert h.expected_wait(1, [100.0], 1, []) is None  # nothing says how long the one ahead takes
    assert h.expected_wait(0, [None], 1, []) is None
    assert h.expected_wait(0, [None], 1, [50.0, 80.0]) == (50.0, 80.0)
    assert h.expected_wait(0, [], 0, [50.0]) is None  # no worker: nobody knows when one joins


@pytest.mark.parametrize("wait, words", [
    (None, "expected wait unknown"), ((0.0, 0.0), "expected wait under a minute"),
    ((200.0, 230.0), "expected wait about 4 minutes"), ((220.0, 340.0), "expected wait 4–6 minutes"),
    ((50.0, 70.0), "expected wait about 1 minute")])
def test_the_expected_wait_in_words(wait, words):
    assert wait_phrase(wait) == words
    status = JobStatus(id="j", key="k", label="l", state="queued", submitted=T0, place=2, wait=wait)
    assert status.describe() == f"queued (number 2 in line, {words})"


def test_no_worker_on_a_cluster_is_an_alarm_that_says_the_job_waits_until_one_joins():
    seen = view([], [("a", "queued", "", (0, 1, 0), 1)])
    health = h.judge(seen, kind="cluster", address="tcp://127.0.0.1:8786", now=T0 + 5, waiting=1,
                     losses=[h.Loss(W1, T0, ("a",))])
    assert health.alarm and health.state == h.NO_WORKER
    assert health.sentence.startswith(f"The worker {W1} was lost at {h.clock(T0)}. No worker is connected to the "
                                      "cluster at tcp://127.0.0.1:8786; your job waits in line and starts when one joins.")
    many = h.judge(seen, kind="cluster", address="tcp://x:1", now=T0, waiting=3)
    assert many.sentence == "No worker is connected to the cluster at tcp://x:1; your jobs wait in line and start when one joins."


def test_the_apps_own_pool_without_a_worker_is_starting_one_not_an_alarm():
    seen = view([], [("a", "queued", "", (0, 1, 0), 0)])
    starting = h.judge(seen, kind="pool", address="tls://127.0.0.1:1", now=T0, waiting=1)
    assert starting.state == h.STARTING and not starting.alarm and "Starting a worker process" in starting.sentence
    assert h.judge(view([], []), kind="pool", address="x", now=T0).state == h.OK
    joined = h.judge(view([], []), kind="pool", address="x", now=T0, running=["a"])  # heard since the view
    assert joined == h.Health(h.OK, "A worker joined and is starting the training.")


def test_a_lost_worker_is_said_while_others_are_connected_then_forgotten():
    before = view([(W1, 1, ["a"]), (W2, 1, [])], [("a", "processing", W1, (0, 1, 0), 0)], asked=T0)
    after = view([(W2, 1, ["a"])], [("a", "processing", W2, (0, 1, 0), 1)], asked=T0 + 2)
    losses = h.workers_lost(before, after, T0 + 2)
    assert losses == [h.Loss(W1, T0 + 2, ("a",))]
    assert h.workers_lost(after, before, T0 + 4) == []  # W2 executed nothing: a retired idle worker is no loss
    health = h.judge(after, kind="cluster", address="tcp://s:1", now=T0 + 5, losses=losses)
    assert health.state == h.WORKER_LOST and not health.alarm  # said, not alarmed: its job goes on
    assert f"The worker {W1} was lost at {h.clock(T0 + 2)}; Dask put the job it trained back in line, to start over" \
        in health.sentence and "1 worker connected (1 training at once); 1 training, 0 waiting in line" in health.sentence
    # the scheduler hears what a worker executes from its heartbeat: the trainings' own reports are on time
    heard = h.judge(view([(W2, 1, [])], [("b", "processing", W2, (0, 1, 0), 0)]), kind="cluster", address="s",
                    now=T0, running=["b"])
    assert heard.sentence == "1 worker connected (1 training at once); 1 training, 0 waiting in line."
    later = h.judge(after, kind="cluster", address="tcp://s:1", now=T0 + 2 + h.LOSS_SHOWN_SECONDS + 1, losses=losses)
    assert later.state == h.OK and later.sentence.startswith("1 worker connected")


def test_a_scheduler_that_does_not_answer_says_where_jobs_go_next():
    health = h.judge(None, kind="cluster", address="tcp://127.0.0.1:8786", now=T0, unanswered=7.4,
                     fallback="this server's worker processes")
    assert health.state == h.NO_SCHEDULER and health.alarm
    assert health.sentence.startswith("The Dask scheduler at tcp://127.0.0.1:8786 has not answered for 7 s.")
    assert "If the connection breaks, the jobs go to this server's worker processes instead" in health.sentence
    assert "its jobs fail" in h.judge(None, kind="cluster", address="a", now=T0, unanswered=4.0).sentence
    assert h.judge(None, kind="cluster", address="a", now=T0) == h.Health(h.UNKNOWN, "")


def test_a_lost_and_a_restarted_job_say_so_in_words():
    lost = h.lost_note(W1, "epoch 2/5, batch 251/844")
    assert lost == (f"Its worker {W1} was lost at epoch 2/5, batch 251/844. The job is back in line and starts over "
                    "from epoch 1 when a worker takes it; its progress so far is lost.")
    assert "the job fails" in h.lost_note(W1, "", retries_left=False)
    again = h.restart_note(W2, W1, "epoch 2/5", 1)
    assert again == (f"Started over on {W2}: the worker it ran on ({W1}) was lost at epoch 2/5, so its progress was "
                     "reset to epoch 1.")
    assert "(start number 3)" in h.restart_note(W2, W1, "", 2)
    assert not math.isnan(h.expected_wait(0, [], 1, [])[0])
