"""Debian's nginx with the shipped site (observability/nginx/site.conf + store.conf) in front of
a real gunicorn: its own refusals (400, 404, 413, 414, 494, 502) answer in the API's JSON shape
under /api and as a page elsewhere, and a request line gunicorn would refuse is refused by nginx first."""
import http.client
import json
import subprocess

import pytest

from bench.env import BASE_DIR
from bench.nginx import SNIPPET, Nginx, ensure_nginx
from tests.ops.conftest import free_port, process_env


@pytest.fixture
def proxied(transactional_db, catalog, web_servers, tmp_path):
    """(nginx, gunicorn): the shipped site in front of a gunicorn of the test database."""
    web = web_servers(process_env())
    nginx = Nginx(tmp_path / "nginx", upstream=web.url, port=free_port()).start()
    try:
        yield nginx, web
    finally:
        nginx.stop()


def request(nginx: Nginx, method: str, target: str, *, headers: dict | None = None,
            body_length: int | None = None) -> tuple[int, dict, bytes]:
    """One request; with `body_length` it announces that many body bytes and sends none (nginx
    refuses by Content-Length before reading any)."""
    connection = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=10)
    try:
        connection.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in {"Host": "localhost", **(headers or {})}.items():
            if value is not None:  # None: leave the header out
                connection.putheader(name, value)
        if body_length is not None:
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(body_length))
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def assert_api_error(status: int, headers: dict, body: bytes, expected_status: int, code: str) -> None:
    assert status == expected_status, body
    assert headers["content-type"] == "application/json", headers
    answer = json.loads(body)
    assert set(answer) == {"error", "code"} and answer["code"] == code and answer["error"], answer


def assert_page(status: int, headers: dict, body: bytes, expected_status: int) -> None:
    assert status == expected_status, body
    assert headers["content-type"].startswith("text/html"), headers
    assert body.startswith(b"<!doctype html>") and b"Back to the catalog" in body


def test_nginx_passes_the_apps_answers_through(proxied):
    nginx, _ = proxied
    status, _, body = request(nginx, "GET", "/api/products")
    assert status == 200, body
    assert json.loads(body)
    # The app's own errors are the app's (nginx does not replace them).
    status, headers, body = request(nginx, "GET", "/api/no-such-endpoint")
    assert_api_error(status, headers, body, 404, "not_found")
    assert b"No API endpoint at /api/no-such-endpoint" in body
    status, headers, _ = request(nginx, "GET", "/livez", headers={"X-Request-ID": "probe-1"})
    assert status == 200 and headers["x-request-id"] == "probe-1"
    assert_page(*request(nginx, "GET", "/metrics"), 404)  # Prometheus scrapes gunicorn directly


def test_a_body_over_the_limit_is_refused_by_nginx_in_the_shape_of_its_path(proxied):
    nginx, _ = proxied
    too_big = 4 * 1024 * 1024  # client_max_body_size is 3m
    assert_api_error(*request(nginx, "POST", "/api/orders", body_length=too_big), 413, "payload_too_large")
    assert_page(*request(nginx, "POST", "/accounts/profile/", body_length=too_big), 413)


@pytest.mark.parametrize("length", [4010, 8000])
def test_a_request_line_over_4000_bytes_is_refused_by_nginx_before_gunicorn(proxied, length):
    """gunicorn refuses request lines over 4094 bytes with an HTML 414 of its own; nginx refuses
    from 4000 bytes on (4010 would pass nginx's default limit and reach gunicorn)."""
    nginx, _ = proxied
    for path, api in (("/api/products?search=", True), ("/products/?q=", False)):
        target = path + "x" * (length - len(path) - len("GET  HTTP/1.1"))
        answer = request(nginx, "GET", target)
        if api:
            assert_api_error(*answer, 414, "uri_too_long")
        else:
            assert_page(*answer, 414)


@pytest.mark.parametrize("header", ["X-Big", "Cookie"])
def test_a_header_line_over_4000_bytes_is_refused_by_nginx_in_the_shape_of_its_path(proxied, header):
    """nginx's 494 (a header line or the cookies over large_client_header_buffers), sent as 400."""
    nginx, _ = proxied
    value = "a=" + "x" * 5000
    status, headers, body = request(nginx, "GET", "/api/products", headers={header: value})
    assert_api_error(status, headers, body, 400, "header_too_large")
    assert_page(*request(nginx, "GET", "/products/prod-001/", headers={header: value}), 400)


def test_a_request_nginx_cannot_read_is_a_400_in_the_shape_of_its_path(proxied):
    nginx, _ = proxied
    # HTTP/1.1 without Host: nginx's own 400, before any proxying.
    assert_api_error(*request(nginx, "GET", "/api/products", headers={"Host": None}), 400, "bad_request")
    assert_page(*request(nginx, "GET", "/", headers={"Host": None}), 400)


def test_a_stopped_gunicorn_is_a_502_in_the_shape_of_the_path_with_retry_after(proxied):
    nginx, web = proxied
    web.stop()
    status, headers, body = request(nginx, "GET", "/api/products")
    assert_api_error(status, headers, body, 502, "unavailable")
    assert headers["retry-after"] == "5"
    status, headers, body = request(nginx, "GET", "/")
    assert_page(status, headers, body, 502)
    assert headers["retry-after"] == "5"


def test_uploaded_images_are_served_by_nginx_with_the_apps_headers(proxied):
    nginx, _ = proxied
    image = nginx.media_dir / "products" / "photo.png"
    image.parent.mkdir(parents=True)
    image.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 32)
    status, headers, body = request(nginx, "GET", "/media/products/photo.png")
    assert status == 200 and body == image.read_bytes()
    assert headers["content-type"] == "image/png" and headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in headers["content-security-policy"]
    assert_page(*request(nginx, "GET", "/media/products/photo.html"), 404)


def test_the_compose_server_block_is_a_valid_configuration_of_the_same_file(tmp_path):
    """docker-compose.yml's nginx reads compose.conf, which includes store.conf as site.conf does."""
    compose_conf = (BASE_DIR / "observability" / "nginx" / "compose.conf").read_text()
    assert compose_conf.count("include /etc/nginx/snippets/workflow-store.conf;") == 1
    server = compose_conf.replace("include /etc/nginx/snippets/workflow-store.conf;", f"include {SNIPPET};")
    server = server.replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    main = tmp_path / "nginx.conf"
    main.write_text(f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
                    f"http {{\naccess_log off;\nclient_body_temp_path {tmp_path}/body;\n{server}\n}}\n")
    result = subprocess.run([ensure_nginx(), "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
