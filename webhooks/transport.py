"""Reaching a receiver: its URL checked, its name resolved once, the POST made to the address
that was checked (so a name that resolves elsewhere between the check and the connection
cannot steer the store to an internal service). One attempt has one deadline,
WEBHOOK_TIMEOUT_SECONDS from its start to the answer's status line, so a receiver that trickles
bytes cannot hold a worker longer.

Without WEBHOOK_ALLOW_PRIVATE an address that is not public (private, loopback, link-local,
shared, reserved, multicast) is refused, at registration and again at every delivery.
"""
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings


class AddressRefused(ValueError):
    """The URL may not be used: its text, or where its name leads."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def url_parts(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http or https URL; AddressRefused otherwise."""
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # an unclosed or invalid [IPv6] host
        raise AddressRefused("The URL is not valid: check its host.") from exc
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("Only http and https URLs can receive webhooks.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise AddressRefused("The URL's port is not a number from 1 to 65535.") from exc
    if not hostname:
        raise AddressRefused("The URL has no host.")
    if parts.username or parts.password:
        raise AddressRefused("Put no user name or password in the URL; the signature proves the sender.")
    return parts.scheme, hostname, port


def request_target(url: str) -> str:
    """The request line's target: the path ("/" when empty) and the query; never the fragment."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _addresses(host: str, port: int, timeout: float) -> list:
    """getaddrinfo within `timeout`: it has no timeout of its own, so it runs in a thread that is
    left to finish on its own (the system resolver's own limits end it) when it takes longer."""
    found: dict = {}

    def lookup() -> None:
        try:
            found["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            found["error"] = exc

    thread = threading.Thread(target=lookup, name="webhook-resolve", daemon=True)
    thread.start()
    thread.join(timeout)
    if "infos" not in found:
        raise AddressRefused(f"{host} could not be resolved" + (" in time." if thread.is_alive() else "."))
    return found["infos"]


def resolve(url: str, timeout: float | None = None) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to); AddressRefused when the name does not
    resolve within `timeout` (WEBHOOK_TIMEOUT_SECONDS) or, without WEBHOOK_ALLOW_PRIVATE, when
    any of its addresses is not public."""
    scheme, host, port = url_parts(url)
    infos = _addresses(host, port, settings.WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout)
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        private = [address for address in addresses if not _public(address)]
        if private:
            raise AddressRefused(f"{host} leads to {private[0]}, which is not a public address.")
    return scheme, host, port, addresses[0]


def url_check(url: str) -> None:
    """At registration: the URL's form, and (unless WEBHOOK_ALLOW_PRIVATE) where it leads."""
    url_parts(url)
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        resolve(url)


class _PinnedHTTP(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        # The certificate is checked against the name (SNI too), the socket goes to the checked address.
        # The handshake's timeout bounds it as a whole (ssl keeps one deadline across its reads).
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass(frozen=True)
class Answer:
    status: int | None
    latency_ms: int
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _Deadline:
    def __init__(self, seconds: float):
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.at - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("timed out")
        return remaining


class _Lines:
    """The answer's head, line by line, each read within the attempt's deadline."""

    LIMIT = 65536

    def __init__(self, sock: socket.socket, deadline: _Deadline):
        self.sock, self.deadline, self.buffer, self.taken = sock, deadline, b"", 0

    def line(self) -> bytes:
        while b"\n" not in self.buffer:
            if self.taken > self.LIMIT:
                raise http.client.LineTooLong("the answer's head")
            self.sock.settimeout(self.deadline.left())
            chunk = self.sock.recv(4096)
            if not chunk:
                raise http.client.RemoteDisconnected("the receiver closed the connection without an answer")
            self.buffer += chunk
            self.taken += len(chunk)
        line, self.buffer = self.buffer.split(b"\n", 1)
        return line.rstrip(b"\r")


def _status(sock: socket.socket, deadline: _Deadline) -> int:
    """The answer's final status code, read up to its status line (interim 1xx answers skipped);
    the rest of the answer is not waited for."""
    lines = _Lines(sock, deadline)
    while True:
        line = lines.line()
        version, _, rest = line.decode("latin-1").partition(" ")
        code = rest[:3]
        if not version.startswith("HTTP/") or not (code.isdigit() and len(code) == 3) or rest[3:4] not in ("", " "):
            raise http.client.BadStatusLine(line[:100].decode("latin-1"))
        if not 100 <= int(code) < 200:
            return int(code)
        while lines.line():  # the interim answer's headers, up to its empty line
            pass


def _drain(sock: socket.socket) -> None:
    """Take what of the body has already arrived, without waiting: the receiver need not see its
    answer cut off. Errors do not matter any more."""
    try:
        sock.setblocking(False)
        sock.recv(4096)
    except (OSError, ValueError):
        pass


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url` within WEBHOOK_TIMEOUT_SECONDS in all (resolving, connecting,
    sending, the answer's status line); never raises. A 2xx is success, whatever its body does
    after; a redirect is not followed."""
    started = time.monotonic()
    deadline = _Deadline(settings.WEBHOOK_TIMEOUT_SECONDS)

    def answer(status: int | None, error: str = "") -> Answer:
        return Answer(status, int((time.monotonic() - started) * 1000), error[:300])

    connection = None
    try:
        scheme, host, port, address = resolve(url, timeout=deadline.left())
        connection_class = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
        connection = connection_class(host, port, address, deadline.left())
        connection.connect()
        connection.sock.settimeout(deadline.left())  # sendall keeps it as one deadline for the whole send
        connection.request("POST", request_target(url), body=body, headers={
            **headers, "content-type": "application/json", "user-agent": "workflow-store-webhooks",
            "connection": "close"})
        status = _status(connection.sock, deadline)
        _drain(connection.sock)
        return answer(status, "" if 200 <= status < 300 else f"HTTP {status}")
    except AddressRefused as exc:
        return answer(None, str(exc))
    except (OSError, ValueError, http.client.HTTPException) as exc:
        return answer(None, f"{exc.__class__.__name__}: {exc}")
    finally:
        if connection is not None:
            connection.close()
