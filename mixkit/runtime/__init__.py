"""How work runs: the Stage interface (setup once per worker, process_batch), the executors (Ray,
local processes) that run stages over parquet partitions, the Ray connection, progress display and
the environment record (package versions, lock hash)."""
