"""Training as jobs on a Dask cluster: the manager that submits and watches them (`job_manager`),
what a worker runs (`job_task`), which cluster and how data reaches it (`job_cluster`,
`cluster_certs`), a job's state (`job_status`), a worker's result judged as outside input
(`job_result`), and what keeps a worker from taking the server down (`job_guard`, `memory_budget`).
"""
