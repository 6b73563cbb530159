"""Reaching a receiver: its URL checked, its name resolved once, the POST made to the address
that was checked (so a name that resolves elsewhere between the check and the connection
cannot steer the store to an internal service), with a timeout on every step.

Without WEBHOOK_ALLOW_PRIVATE an address that is not public (private, loopback, link-local,
shared, reserved, multicast) is refused, at registration and again at every delivery.
"""
import http.client
import ipaddress
import socket
import ssl
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
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise AddressRefused("Only http and https URLs can receive webhooks.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise AddressRefused("The URL's port is not a number from 1 to 65535.") from exc
    if not parts.hostname:
        raise AddressRefused("The URL has no host.")
    if parts.username or parts.password:
        raise AddressRefused("Put no user name or password in the URL; the signature proves the sender.")
    return parts.scheme, parts.hostname, port


def resolve(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to); AddressRefused when the name does not
    resolve or, without WEBHOOK_ALLOW_PRIVATE, when any of its addresses is not public."""
    scheme, host, port = url_parts(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise AddressRefused(f"{host} could not be resolved.") from exc
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


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST `body` to `url`; never raises. A 2xx is success; a redirect is not followed."""
    started = time.monotonic()

    def answer(status: int | None, error: str = "") -> Answer:
        return Answer(status, int((time.monotonic() - started) * 1000), error[:300])

    try:
        scheme, host, port, address = resolve(url)
    except AddressRefused as exc:
        return answer(None, str(exc))
    path = urlsplit(url)._replace(scheme="", netloc="").geturl() or "/"
    connection_class = _PinnedHTTPS if scheme == "https" else _PinnedHTTP
    connection = connection_class(host, port, address, settings.WEBHOOK_TIMEOUT_SECONDS)
    try:
        connection.request("POST", path, body=body, headers={
            **headers, "content-type": "application/json", "user-agent": "workflow-store-webhooks"})
        response = connection.getresponse()
        response.read(4096)
        return answer(response.status, "" if 200 <= response.status < 300 else f"HTTP {response.status}")
    except (OSError, http.client.HTTPException) as exc:
        return answer(None, f"{exc.__class__.__name__}: {exc}")
    finally:
        connection.close()
