"""Debian's nginx in front of a gunicorn, with the shipped configuration, as a process of ours.

The site is observability/nginx/site.conf (what docs/operations.md installs on one machine),
rendered for a temp prefix: its `listen`, gunicorn's address, MEDIA_ROOT and the include of
observability/nginx/store.conf are replaced; everything else is the shipped text. nginx runs in
the foreground (`daemon off`) in a session of its own, logging to `<prefix>/error.log`.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.debian import package_ensure
from bench.env import BASE_DIR

NGINX = "/usr/sbin/nginx"
SITE = BASE_DIR / "observability" / "nginx" / "site.conf"
SNIPPET = BASE_DIR / "observability" / "nginx" / "store.conf"


def ensure_nginx() -> str:
    """Debian's nginx binary; installs the `nginx` package when missing (root or passwordless sudo)."""
    return package_ensure("nginx", lambda: NGINX if os.access(NGINX, os.X_OK) else None)


def site_render(*, port: int, upstream: str, media_dir: Path) -> str:
    """site.conf listening on 127.0.0.1:`port`, proxying to `upstream` (http://host:port) and
    including the repository's store.conf. Raises ValueError when a line to replace is missing."""
    text = SITE.read_text()
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{port};",
        "set $store_web http://127.0.0.1:8080;": f"set $store_web {upstream};",
        "set $store_media /srv/workflow-store/data/media;": f"set $store_media {media_dir};",
        "include /etc/nginx/snippets/workflow-store.conf;": f"include {SNIPPET};",
    }
    for old, new in replacements.items():
        if text.count(old) != 1:
            raise ValueError(f"{SITE} no longer has the line {old!r} once")
        text = text.replace(old, new)
    return text


class Nginx:
    """nginx with the shipped site in front of `upstream`, on a free port of 127.0.0.1."""

    def __init__(self, prefix: Path, *, upstream: str, port: int, media_dir: Path | None = None) -> None:
        self.prefix, self.upstream, self.port = Path(prefix), upstream, port
        self.media_dir = media_dir or self.prefix / "media"
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def write_config(self) -> Path:
        self.prefix.mkdir(parents=True, exist_ok=True)
        (self.prefix / "site.conf").write_text(site_render(port=self.port, upstream=self.upstream,
                                                          media_dir=self.media_dir))
        # Only what a test prefix needs around the site: Debian's nginx.conf has the same
        # http-level defaults (mime types, sendfile) and includes the sites the same way.
        user = "user root;\n" if os.geteuid() == 0 else ""
        main = self.prefix / "nginx.conf"
        main.write_text(
            f"{user}daemon off;\nworker_processes 1;\npid {self.prefix}/nginx.pid;\n"
            f"error_log {self.prefix}/error.log warn;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            "    include /etc/nginx/mime.types;\n"
            "    default_type application/octet-stream;\n"
            "    access_log off;\n"
            f"    client_body_temp_path {self.prefix}/client_body;\n"
            f"    proxy_temp_path {self.prefix}/proxy;\n"
            f"    fastcgi_temp_path {self.prefix}/fastcgi;\n"
            f"    uwsgi_temp_path {self.prefix}/uwsgi;\n"
            f"    scgi_temp_path {self.prefix}/scgi;\n"
            f"    include {self.prefix}/site.conf;\n"
            "}\n"
        )
        return main

    def start(self, timeout: float = 15) -> Nginx:
        config = self.write_config()
        binary = ensure_nginx()
        check = subprocess.run([binary, "-t", "-p", str(self.prefix), "-c", str(config)],
                               capture_output=True, text=True)
        if check.returncode != 0:
            raise RuntimeError(f"nginx refused the configuration:\n{check.stderr}")
        self.log = open(self.prefix / "nginx.out", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen([binary, "-p", str(self.prefix), "-c", str(config)],
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited with {self.process.returncode}:\n{self.errors()}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"nginx did not listen on {self.port} within {timeout} s:\n{self.errors()}")

    def errors(self) -> str:
        parts = [path.read_text(errors="replace") for path in (self.prefix / "nginx.out", self.prefix / "error.log")
                 if path.exists()]
        return "\n".join(parts)[-3000:]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)  # graceful: the master waits for its worker
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process is not None:
            self.log.close()
        self.process = None
