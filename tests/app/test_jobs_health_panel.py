"""The jobs panel says how the cluster is: no worker connected (with what happens next), a failure's whole reason.

Each test gives the server its own job manager (the process-wide one is put back afterwards): a
Dask scheduler without any worker, or the in-process cluster with a training that fails.
"""

from __future__ import annotations

import json
import time

import pytest

from dashboard.jobs import job_manager as jobs_mod
from dashboard.jobs.job_cluster import local_cluster_client, process_cluster_client
from dashboard.jobs.job_manager import FAILED, JobManager
from dashboard.ui.run_picker import model_cache
from tests.app.apptools import open_page
from tests.app.test_jobs_panel import quick

pytestmark = pytest.mark.slow
TRAIN = "pages/2_Train.py"
SPEC = {"blocks": [{"filters": 3}, {"filters": 5}], "dense_units": 0}  # no other test trains it


def panel(at) -> list[str]:
    """Every text of the sidebar jobs panel, warnings included, without markdown's escapes."""
    out = []
    for expander in at.sidebar.expander:
        if expander.label.startswith("Training jobs"):
            out += [w.value for w in expander.warning] + [m.value for m in expander.markdown]
            out += [c.value for c in expander.caption] + [p.proto.text for p in expander.get("progress")]
    return [text.replace("\\", "").replace("\N{WORD JOINER}", "") for text in out]


def until_shown(at, words: str, timeout: float = 30.0) -> list[str]:
    """Rerun the page until the panel shows `words`; its texts."""
    end = time.monotonic() + timeout
    while True:
        at.run()
        texts = panel(at)
        if any(words in text for text in texts) or time.monotonic() > end:
            return texts
        time.sleep(0.5)


@pytest.fixture
def own_manager():
    """Install a manager (given its Dask client) as the server's; the old one comes back after the test."""
    kept, made = jobs_mod._default, []

    def install(client) -> JobManager:
        manager = JobManager(model_cache(), client=client)
        made.append((manager, client))
        jobs_mod._default = manager
        return manager

    yield install
    jobs_mod._default = kept
    for manager, client in made:
        manager.close()
        cluster = client.cluster
        client.close()
        cluster.close()


def press_train(seed: int):
    at = open_page(TRAIN, {"spec": json.dumps(SPEC)}, timeout=120)
    at.radio(key="train_data").set_value("embedded").run()
    quick(at, seed=seed, size=1000)
    at.button(key="train_button").click().run()
    assert not at.exception
    return at


def test_with_no_worker_connected_the_panel_and_the_train_page_say_the_job_waits_until_one_joins(own_manager):
    client = process_cluster_client(0)  # a workshop scheduler whose workers have not started (or all died)
    manager = own_manager(client)
    at = press_train(seed=31)
    words = (f"No worker is connected to the cluster at {client.scheduler.address}; your job waits in line and "
             "starts when one joins.")
    texts = until_shown(at, words)
    assert words in texts, texts
    assert panel(at)[0] == words  # the warning opens the panel, above the jobs
    texts = until_shown(at, "queued (number 1 in line, expected wait unknown)")  # once the scheduler listed it
    assert "queued (number 1 in line, expected wait unknown)" in texts, texts
    assert "Jobs run on the given Dask cluster." in texts, texts
    assert any(words in box.value.replace("\\", "") for box in at.main.warning)  # the Train page's live view too
    (status,) = [s for s in manager.jobs() if s.active]
    manager.cancel(status.id)
    assert manager.wait(status.id, 30).state == "cancelled"


def test_a_failed_jobs_reason_is_shown_whole_in_the_panel(own_manager, monkeypatch):
    reason = ("the worker training this job died (twice, Dask retried once): its machine went away in the middle "
              "of epoch 2 of 5 and came back without it; nothing was stored")

    def broken(*args, **kwargs):
        raise RuntimeError(reason)

    monkeypatch.setattr("dashboard.training.trainer.train", broken)  # the in-process worker runs this
    manager = own_manager(local_cluster_client(threads=1))
    at = press_train(seed=32)
    (status,) = manager.jobs()
    assert manager.wait(status.id, 60).state == FAILED
    texts = until_shown(at, "nothing was stored")
    assert f"failed: RuntimeError: {reason}" in texts, texts  # every word, to "nothing was stored"
