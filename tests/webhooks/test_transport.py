"""One attempt against raw loopback receivers: one deadline for the whole attempt however the
receiver trickles its bytes, a 2xx counts once its status line is in, and the request line
carries the URL's path and query."""
import socket
import threading

import pytest

from webhooks import transport


@pytest.fixture
def raw_receiver():
    """raw_receiver(answer) → the URL of a loopback server that reads the request and calls
    answer(connection, request_bytes) for each connection; the requests are in `.requests`."""
    servers = []

    class Raw:
        def __init__(self):
            self.requests: list[bytes] = []

        def __call__(self, answer) -> str:
            server = socket.create_server(("127.0.0.1", 0))
            servers.append(server)

            def serve():
                while True:
                    try:
                        connection, _ = server.accept()
                    except OSError:
                        return
                    with connection:
                        request = connection.recv(65536)
                        self.requests.append(request)
                        try:
                            answer(connection, request)
                        except OSError:
                            pass

            threading.Thread(target=serve, daemon=True).start()
            return f"http://127.0.0.1:{server.getsockname()[1]}"

    yield Raw()
    for server in servers:
        server.close()


def test_a_receiver_trickling_its_status_line_is_cut_off_at_the_deadline(raw_receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    stop = threading.Event()

    def trickle(connection, request):
        for byte in b"HTTP/1.1 200 OK\r\n" * 10:  # one byte every 0.1 s: each read is quick, all of them are not
            if stop.wait(0.1):
                return
            connection.sendall(bytes([byte]))

    answer = transport.post(raw_receiver(trickle) + "/hooks", b"{}", {})
    stop.set()

    assert (answer.status, answer.ok) == (None, False)  # not the 200 it would have trickled out in 1.7 s
    assert "timed out" in answer.error


def test_a_2xx_whose_body_never_comes_is_delivered(raw_receiver, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.5
    done = threading.Event()

    def stall(connection, request):
        connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nok")
        done.wait(5)  # the body never comes

    answer = transport.post(raw_receiver(stall) + "/hooks", b"{}", {})
    done.set()

    assert (answer.status, answer.ok, answer.error) == (200, True, "")


def test_an_interim_answer_is_skipped_for_the_final_status(raw_receiver):
    def interim(connection, request):
        connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")

    answer = transport.post(raw_receiver(interim) + "/hooks", b"{}", {})

    assert (answer.status, answer.error) == (503, "HTTP 503")


@pytest.mark.parametrize("suffix, target", [
    ("?token=abc", "/?token=abc"),
    ("/hooks?x=1#fragment", "/hooks?x=1"),
    ("/a%20b", "/a%20b"),
    ("", "/"),
])
def test_the_request_line_carries_the_path_and_query_never_the_fragment(suffix, target, raw_receiver):
    def ok(connection, request):
        connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

    url = raw_receiver(ok)
    answer = transport.post(url + suffix, b"{}", {})

    assert answer.ok
    assert raw_receiver.requests[-1].split(b"\r\n")[0] == f"POST {target} HTTP/1.1".encode()


def test_a_name_that_does_not_resolve_in_time_fails_the_attempt(monkeypatch, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.2
    release = threading.Event()

    def stuck(*args, **kwargs):
        release.wait(5)
        raise socket.gaierror("no answer")

    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    answer = transport.post("http://slow-dns.example/hooks", b"{}", {})
    release.set()

    assert answer.status is None and "could not be resolved in time" in answer.error
