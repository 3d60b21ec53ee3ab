"""A workshop cluster only the workshop can use: certificates, addresses judged before traffic, results as data.

Quick tests: `cluster certs`, the app's certificate checks, the address rules (no traffic: every
connect is a test failure) and hand-made malicious results through `JobManager` with a fake
cluster. Slow tests (`slow`): each starts and stops its own TLS `LocalCluster` on loopback.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime as dt
import json
import logging
import pickle
import socket
import ssl
import stat
import tempfile
import time
from pathlib import Path

import pytest
from cryptography import x509

from dashboard.cli.main import main
from dashboard.jobs import job_connection
from dashboard.jobs.cluster_certs import (
    CA_VAR,
    CERT_VAR,
    KEY_VAR,
    CertificateError,
    check_tls_files,
    make_certificates,
)
from dashboard.jobs.job_cluster import INSECURE_VAR, local_security
from dashboard.jobs.job_manager import DONE, FAILED, JobManager
from dashboard.jobs.job_result import JobResultError, check_result
from dashboard.mnist.data import load_mnist
from dashboard.network.spec import PRESETS
from dashboard.store.cache import ModelCache
from dashboard.training.train_settings import TrainSettings

TINY = PRESETS["tiny"]
QUICK = TrainSettings(epochs=1, train_size=600, batch_size=64)
OUTSIDE_ADDRESSES = ["tcp://10.1.2.3:8786", "tcp://example.org:8786", "10.1.2.3:8786", "tcp://[2001:db8::1]:8786"]


def app_env(directory: Path) -> dict[str, str]:
    return {CA_VAR: str(directory / "ca.pem"), CERT_VAR: str(directory / "app.pem"), KEY_VAR: str(directory / "app-key.pem")}


@pytest.fixture
def certs(tmp_path) -> Path:
    return make_certificates(tmp_path / "certs").directory


# --- certificates ------------------------------------------------------------------------------


def test_certs_command_writes_an_authority_and_three_parties_keys_private_and_never_overwrites(tmp_path, capsys):
    target = tmp_path / "workshop"
    assert main(["cluster", "certs", str(target), "--host", "sched.example", "--host", "192.0.2.7", "--days", "7"]) == 0
    out = capsys.readouterr().out
    expires = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=7)).strftime("%Y-%m-%d")
    assert f"they expire on {expires}" in out and "never on a worker" in out
    names = {"ca.pem", "ca-key.pem", "scheduler.pem", "scheduler-key.pem", "worker.pem", "worker-key.pem",
             "app.pem", "app-key.pem"}
    assert {p.name for p in target.iterdir()} == names
    for path in target.iterdir():
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o600 if path.name.endswith("-key.pem") else 0o644), (path.name, oct(mode))
    ca = x509.load_pem_x509_certificate((target / "ca.pem").read_bytes())
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    for role in ("scheduler", "worker", "app"):
        cert = x509.load_pem_x509_certificate((target / f"{role}.pem").read_bytes())
        cert.verify_directly_issued_by(ca)  # raises if another authority signed it
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    scheduler = x509.load_pem_x509_certificate((target / "scheduler.pem").read_bytes())
    names_in = scheduler.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "sched.example" in names_in.get_values_for_type(x509.DNSName)
    assert any(str(ip) == "192.0.2.7" for ip in names_in.get_values_for_type(x509.IPAddress))
    before = (target / "ca-key.pem").read_bytes()
    assert main(["cluster", "certs", str(target)]) == 2
    assert "is not empty" in capsys.readouterr().err and (target / "ca-key.pem").read_bytes() == before


def test_the_apps_certificate_files_are_checked_naming_the_variable_and_the_file(tmp_path, certs):
    env = app_env(certs)
    assert check_tls_files(env).expires > dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=29)
    with pytest.raises(CertificateError, match=KEY_VAR):
        check_tls_files({k: v for k, v in env.items() if k != KEY_VAR})
    with pytest.raises(CertificateError, match=f"{CERT_VAR} names .*missing.pem, which cannot be read"):
        check_tls_files({**env, CERT_VAR: str(tmp_path / "missing.pem")})
    with pytest.raises(CertificateError, match=f"{CA_VAR} names .*app-key.pem, which is not a PEM certificate"):
        check_tls_files({**env, CA_VAR: env[KEY_VAR]})
    old = make_certificates(tmp_path / "old", days=1, now=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)).directory
    with pytest.raises(CertificateError, match="expired on 2020-01-02"):
        check_tls_files(app_env(old))
    other = make_certificates(tmp_path / "other").directory
    with pytest.raises(CertificateError, match="is not the key of the certificate"):
        check_tls_files({**env, KEY_VAR: str(other / "app-key.pem")})
    with pytest.raises(CertificateError, match="was not issued by the authority"):
        check_tls_files({**env, CERT_VAR: str(other / "app.pem"), KEY_VAR: str(other / "app-key.pem")})


# --- addresses judged before any traffic -------------------------------------------------------


class FakeFuture:
    """A finished Dask future holding `value` (no cluster)."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value

    def add_done_callback(self, callback):
        callback(self)

    def cancel(self):
        pass


class FakeClient:
    """Enough of a Dask client for `JobManager`: every submitted job returns `result`."""

    status = "running"
    cluster = None

    def __init__(self, result=None, address="inproc://fake"):
        self.result, self.scheduler = result, type("S", (), {"address": address})()

    def subscribe_topic(self, topic, handler):
        pass

    def submit(self, func, *args, **kwargs):
        return FakeFuture(self.result if func.__name__ == "run_job" else None)

    def close(self):
        pass


@pytest.fixture
def no_traffic(monkeypatch):
    """Fail the test on any connection attempt: Dask's client, `jobs.connect`, or a socket."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"a connection was attempted: {args}")

    monkeypatch.setattr(job_connection, "connect", refuse)
    monkeypatch.setattr("distributed.Client.__init__", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(job_connection, "local_cluster_client", lambda *args: FakeClient())
    monkeypatch.setattr(job_connection, "worker_pool_client", lambda *args: FakeClient())
    for name in (INSECURE_VAR, CA_VAR, CERT_VAR, KEY_VAR):
        monkeypatch.delenv(name, raising=False)
    return attempts


@pytest.mark.parametrize("address", OUTSIDE_ADDRESSES)
def test_plain_tcp_to_another_machine_is_refused_from_the_address_alone(monkeypatch, no_traffic, address):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
    manager = JobManager(ModelCache(root="/nonexistent-never-written", shipped_root=None))
    manager.client()
    assert no_traffic == []
    assert f"The Dask scheduler address {address} is plain TCP to another machine" in manager.notice
    assert "tls://" in manager.notice and INSECURE_VAR in manager.notice
    assert manager.notice.endswith("Jobs run on this server's worker processes instead.")
    assert manager.describe() == "jobs run on this server's worker processes" and not manager.remote


def test_tls_without_the_apps_certificates_names_the_variables_and_never_connects(monkeypatch, no_traffic):
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tls://10.1.2.3:8786")
    manager = JobManager(ModelCache(root="/nonexistent-never-written", shipped_root=None))
    manager.client()
    assert no_traffic == [] and not manager.remote
    assert all(name in manager.notice for name in (CA_VAR, CERT_VAR, KEY_VAR)) and "Traceback" not in manager.notice


def test_insecure_opt_in_and_loopback_connect_and_say_they_are_unencrypted(monkeypatch, no_traffic):
    tried = []
    monkeypatch.setattr(job_connection, "connect", lambda connection: tried.append(connection) or FakeClient(
        address=connection.address))
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://10.1.2.3:8786")
    monkeypatch.setenv(INSECURE_VAR, "1")
    manager = JobManager(ModelCache(root="/nonexistent-never-written", shipped_root=None))
    manager.client()
    assert [c.address for c in tried] == ["tcp://10.1.2.3:8786"] and tried[0].security is None
    assert manager.remote and manager.notice == ""
    assert manager.describe().startswith("jobs run on the Dask cluster at tcp://10.1.2.3:8786: UNENCRYPTED")
    monkeypatch.delenv(INSECURE_VAR)
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", "tcp://127.0.0.1:8786")
    loopback = JobManager(ModelCache(root="/nonexistent-never-written", shipped_root=None))
    loopback.client()
    assert "loopback interface only" in loopback.describe() and len(tried) == 2


# --- results judged like files -------------------------------------------------------------------


@pytest.fixture(scope="module")
def data():
    return load_mnist("embedded")


@pytest.fixture(scope="module")
def genuine(data) -> dict:
    """A real worker result of the tiny network (trained here, no cluster)."""
    from dashboard.jobs.job_task import run_job
    from dashboard.store.run import make_key

    key = make_key(TINY, QUICK, data.fingerprint)
    return run_job("j", key, TINY.to_dict(), QUICK.to_dict(), data, data.fingerprint, data.source, time.time())


def lambda_model_bytes() -> bytes:
    import keras

    model = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Lambda(lambda x: x * 2.0, name="conv2d"),
                              keras.layers.Flatten(name="flatten"), keras.layers.Dense(10, activation="softmax")])
    path = Path(tempfile.mkdtemp()) / "m.keras"
    model.save(path)  # Keras writes the Lambda's code into the archive
    return path.read_bytes()


def other_network_bytes() -> bytes:
    from dashboard.jobs.job_task import model_bytes
    from dashboard.training.model import build_model

    return model_bytes(build_model(PRESETS["global_avg"]))


def with_record(result: dict, **changes) -> dict:
    record = json.loads(result["record_json"])
    record.update(changes)
    return {**result, "record_json": json.dumps(record)}


class Evil:
    """Unpickling this would call `os.system`: nothing may ever unpickle a result."""

    def __reduce__(self):
        import os

        return (os.system, ("echo unpickled",))


@pytest.mark.slow
def test_malicious_results_are_refused_before_anything_is_written(tmp_path, data, genuine):
    key = json.loads(genuine["record_json"])["key"]
    bad = {
        "another network in the record": with_record(genuine, spec=PRESETS["global_avg"].to_dict()),
        "another key": with_record(genuine, key="0123456789abcdef"),
        "a Lambda layer": {**genuine, "model": lambda_model_bytes()},
        "another network's model": {**genuine, "model": other_network_bytes()},
        "a pickle payload": {"record_json": genuine["record_json"], "model": pickle.dumps(Evil())},
        "a pickled object": Evil(),
        "an extra field": {**genuine, "code": b"x"},
        "record as a dict": {"record": json.loads(genuine["record_json"]), "model": genuine["model"]},
    }
    reasons = {}
    for what, result in bad.items():
        cache = ModelCache(root=tmp_path / what.replace(" ", "-"), shipped_root=None)
        manager = JobManager(cache, client=FakeClient(result))
        status = manager.wait(manager.submit(TINY, QUICK, data, session="s").id, 10)
        assert status.state == FAILED and "nothing was stored" in status.message, (what, status.message)
        assert cache.get(key) is None and not (cache.root.exists() and any(cache.root.iterdir())), what
        reasons[what] = status.message
    assert "network" in reasons["another network in the record"]
    assert "Lambda layer" in reasons["a Lambda layer"]
    assert "not the job's network" in reasons["another network's model"]
    # the genuine result is stored by the same path: the refusals above are about the results
    cache = ModelCache(root=tmp_path / "genuine", shipped_root=None)
    manager = JobManager(cache, client=FakeClient(genuine))
    status = manager.wait(manager.submit(TINY, QUICK, data, session="s").id, 10)
    assert status.state == DONE and status.stored and cache.get(key) is not None
    record, model = check_result(genuine, key, TINY, QUICK, data.fingerprint)
    assert model == genuine["model"] and record.key == key
    with pytest.raises(JobResultError, match="training settings"):
        check_result(genuine, key, TINY, TrainSettings(epochs=2, train_size=600, batch_size=64), data.fingerprint)


# --- a real TLS cluster -----------------------------------------------------------------------


def tls_cluster(certs: Path):
    """A `LocalCluster` on loopback, every party with TLS and a certificate (worker threads in this process)."""
    from distributed import LocalCluster

    return LocalCluster(n_workers=1, threads_per_worker=1, processes=False, protocol="tls://", host="127.0.0.1",
                        security=local_security(certs), dashboard_address="127.0.0.1:0", silence_logs=logging.ERROR)


unpickled: list[str] = []


def mark(text: str) -> str:
    unpickled.append(text)
    return text


class Marked:
    """Unpickling this records it in `unpickled`."""

    def __reduce__(self):
        return (mark, ("unpickled",))


def return_marked() -> Marked:
    return Marked()


@pytest.mark.slow
def test_a_tls_cluster_trains_a_run_end_to_end_through_the_job_manager(tmp_path, monkeypatch, certs, data):
    cluster = tls_cluster(certs)
    try:
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster.scheduler_address)
        for name, value in app_env(certs).items():
            monkeypatch.setenv(name, value)
        cache = ModelCache(root=tmp_path / "cache", shipped_root=None)
        manager = JobManager(cache)
        try:
            status = manager.submit(TINY, QUICK, data, session="tls")
            assert manager.remote and manager.notice == ""
            assert manager.describe().startswith(f"jobs run on the Dask cluster at {cluster.scheduler_address}: "
                                                 "encrypted (TLS")
            done = manager.wait(status.id, 180)
            assert done.state == DONE and done.stored, done.message
            assert done.record.trained_on.startswith("tls://127.0.0.1:")
            cache.load_model(status.key)  # the bytes from the worker are a sound model
            # a worker's pickled result is refused by the app, never unpickled
            with pytest.raises(TypeError, match="only able to deserialize data with \\['msgpack'\\]"):
                manager.client().submit(return_marked, pure=False).result(timeout=60)
            assert unpickled == []
        finally:
            manager.close()
    finally:
        cluster.close()


async def _raw_tls_without_a_certificate(address: str, ca_file: str) -> str:
    from distributed.comm import connect

    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = False
    try:
        comm = await connect(address, timeout=3, ssl_context=context)
        await comm.write({"op": "identity"})
        return f"answered: {await comm.read()}"
    except Exception as err:  # noqa: BLE001 - the refusal is what is measured
        return f"refused: {type(err).__name__}: {err}"


@pytest.mark.slow
def test_clients_without_a_workshop_certificate_are_refused(tmp_path, certs):
    from distributed import Client
    from distributed.security import Security

    other = make_certificates(tmp_path / "other").directory
    cluster = tls_cluster(certs)
    try:
        address = cluster.scheduler_address
        port = address.rsplit(":", 1)[1]
        before = set(cluster.scheduler.clients)
        # A loop of its own in a fresh thread: an earlier test may leave this thread's event loop running.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            no_cert = pool.submit(asyncio.run, _raw_tls_without_a_certificate(address, str(certs / "ca.pem"))).result()
        assert no_cert.startswith("refused: CommClosedError") and "SSL" in no_cert, no_cert  # the TLS handshake fails
        outsiders = {
            "another authority's certificate": (address, Security(tls_ca_file=str(certs / "ca.pem"),
                                                                  tls_client_cert=str(other / "app.pem"),
                                                                  tls_client_key=str(other / "app-key.pem"),
                                                                  require_encryption=True)),
            "plain TCP": (f"tcp://127.0.0.1:{port}", None),
        }
        for what, (where, security) in outsiders.items():
            with pytest.raises(OSError):  # CommClosedError and TimeoutError are OSErrors
                Client(where, timeout=3, security=security, set_as_default=False)
        assert set(cluster.scheduler.clients) == before  # none of them got in
        insider = Client(address, timeout=10, security=local_security(certs), set_as_default=False)
        try:
            assert insider.submit(sum, [1, 2]).result(timeout=30) == 3  # the cluster itself works
        finally:
            insider.close()
    finally:
        cluster.close()
