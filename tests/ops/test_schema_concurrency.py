"""The OpenAPI schema under concurrent requests: gunicorn's threads serve several at once, and
drf-spectacular's generator is not thread-safe (store.api.schema.SchemaView serialises it)."""
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.ops.conftest import http_get, process_env


@pytest.mark.worker
def test_concurrent_schema_requests_all_succeed(transactional_db, web_servers, tmp_path):
    server = web_servers(process_env(DATA_DIR=tmp_path, RATE_LIMIT_API="off", RATE_LIMIT_API_BURST="off"))

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(lambda _: http_get(f"{server.url}/api/schema/", timeout=60)[0], range(24)))

    assert statuses == [200] * 24
