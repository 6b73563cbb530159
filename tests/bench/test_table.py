"""The bench's table (docs/performance.md) shows the pipeline's scaling and the connections it held."""
from bench.run import table

META = {"backend": "postgres", "machine": {"nproc": 2, "cpu": "test CPU", "python": "3.11"}, "date": "2026-01-01 00:00 UTC",
        "commit": "abc1234", "background_load_before": {"busy_fraction": 0.0}, "quick": False}


def throughput_row(workers: int, orders_per_s: float, scaling: float, processes: int, peak: int) -> dict:
    return {"workers": workers, "n": 300, "delivered": 300, "orders_per_s": orders_per_s,
            "ratio_to_floor": orders_per_s / 2000, "orders_per_s_per_worker": orders_per_s / workers, "scaling": scaling,
            "cluster_cpu_ms_per_order": 40.0, "database_cpu_ms_per_order": 20.0, "machine_cpu_ms_per_order": 80.0,
            "rss_peak_mb": 400, "cluster_processes": processes, "db_pool": {"min_size": 1, "max_size": 4, "timeout": 5},
            "db_connections_bound": processes * 4, "db_connections_peak": peak, "redis_connections_peak": 3}


def test_each_worker_count_shows_its_rate_against_the_floor_per_process_and_its_connections():
    result = {"meta": META, "parts": {"throughput": [throughput_row(1, 16.0, 1.0, 5, 8),
                                                     throughput_row(2, 24.0, 0.75, 6, 10)]}}

    lines = table([result]).splitlines()

    header = next(line for line in lines if line.startswith("| backend | workers |"))
    for column in ("× floor @32", "orders/s per worker", "scaling to 1 worker", "PostgreSQL CPU ms/order",
                   "DB connection bound (processes × pool max)", "DB connections peak", "Redis connections peak"):
        assert column in header
    rows = [line for line in lines if line.startswith("| postgres |")]
    assert rows == [
        "| postgres | 1 | 16.0 | 0.0080 | 16.0 | 1.00 | 300/300 | 40.0 | 20.0 | 80.0 | – | – | 400 | 5 × 4 = 20 | 8 | 3 |",
        "| postgres | 2 | 24.0 | 0.0120 | 12.0 | 0.75 | 300/300 | 40.0 | 20.0 | 80.0 | – | – | 400 | 6 × 4 = 24 | 10 | 3 |",
    ]


def test_a_run_without_a_database_pool_shows_no_bound():
    row = throughput_row(1, 20.0, 1.0, 5, 0) | {"db_pool": None, "db_connections_bound": None,
                                                "db_connections_peak": None, "redis_connections_peak": None,
                                                "database_cpu_ms_per_order": None}
    result = {"meta": META | {"backend": "sqlite"}, "parts": {"throughput": [row]}}

    row_line = next(line for line in table([result]).splitlines() if line.startswith("| sqlite |"))

    assert row_line.endswith("| 400 | – | – | – |")
