"""Debian packages the bench and drills run (wrk, nginx, libfaketime), installed when missing.

The machines this project runs on reach Debian's archive; nothing is downloaded any other way.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable


def package_ensure(package: str, find: Callable[[], str | None]) -> str:
    """What `find` locates (a binary's or a library's path), installing Debian's `package` first
    when it finds nothing: `apt-get install -y --no-install-recommends` as root or through
    passwordless sudo, and again after an `apt-get update` when the lists are stale.

    Raises SystemExit naming the package when apt-get is missing or the install fails."""
    found = find()
    if found:
        return found
    apt = shutil.which("apt-get")
    if apt is None:
        raise SystemExit(f"{package} is missing and apt-get is not available: install Debian's {package} package.")
    prefix = [] if os.geteuid() == 0 else ["sudo", "-n"]
    print(f"{package} is missing: installing Debian's {package} package ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    command = [*prefix, apt, "install", "-y", "--no-install-recommends", package]
    install = subprocess.run(command, env=env, capture_output=True, text=True)
    if install.returncode != 0:
        subprocess.run([*prefix, apt, "update"], env=env, capture_output=True)
        install = subprocess.run(command, env=env, capture_output=True, text=True)
    found = find()
    if not found:
        raise SystemExit(f"could not install {package} (`apt-get install -y {package}` as root):\n"
                         f"{install.stderr[-2000:]}")
    return found
