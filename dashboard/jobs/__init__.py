"""Training as jobs on a Dask cluster. The manager submits, answers and cancels (`job_manager`),
connects to a cluster (`job_connection`, `job_cluster`, `cluster_certs`) and settles what the
workers report (`job_events`); it watches the cluster's health and its one queue (`job_watch`,
`job_health`). A worker runs `job_task`; its result is judged as outside input (`job_result`);
`job_guard` and `memory_budget` keep a worker from taking the server down; a job's state is
`job_status`; `train_now` trains one run and waits, for scripts and tests.
"""
