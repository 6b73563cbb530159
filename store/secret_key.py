"""The machine's own SECRET_KEY for the one-machine layout, kept in DATA_DIR/secret_key.

`make run` creates the file once (`python -m store.secret_key DATA_DIR`) with a random key,
readable by its owner only, and makes DATA_DIR its owner's only; the settings read the file
whenever SECRET_KEY is not in the environment. A deployment of several machines sets SECRET_KEY instead: every process that
signs or checks sessions, JWTs and task payloads must share one key.

Imports nothing from Django: the settings use it before Django is set up.
"""
import os
import secrets
import sys
from pathlib import Path

FILE_NAME = "secret_key"


MIN_LENGTH = 50  # Django's own check (security.W009) asks for at least this many characters


def secret_key_read(data_dir: Path) -> str:
    """The key kept in `data_dir`, or "" when there is none (the settings then refuse to start).

    ValueError when the file holds less than a key (emptied or cut short).
    """
    path = Path(data_dir) / FILE_NAME
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return ""
    if len(key) < MIN_LENGTH:
        raise ValueError(
            f"{path} holds {len(key)} characters, not a key of at least {MIN_LENGTH}. Delete it and start "
            "`make run` again to create a new one (signed-in sessions and API tokens then end), or set SECRET_KEY."
        )
    return key


def secret_key_create(data_dir: Path) -> Path:
    """Create `data_dir`/secret_key with 64 random URL-safe characters, mode 0600, unless it exists.

    Several processes may start at once: the key is written to a private temporary file and
    published with a hard link, which fails if another process published first, so every
    process reads one complete key.
    """
    directory = Path(data_dir)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = directory / FILE_NAME
    if path.exists():
        return path
    temporary = directory / f".{FILE_NAME}.{os.getpid()}.{secrets.token_hex(4)}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)
    return path


def data_dir_private(data_dir: Path) -> None:
    """DATA_DIR readable by its owner only: it holds the database (sessions, tokens) and the key."""
    directory = Path(data_dir)
    if directory.stat().st_uid == os.getuid() and directory.stat().st_mode & 0o077:
        directory.chmod(0o700)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m store.secret_key DATA_DIR")
    data_dir = Path(sys.argv[1])
    if os.environ.get("SECRET_KEY"):
        data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif not (data_dir / FILE_NAME).exists():
        print(f"Created {secret_key_create(data_dir)} (a random SECRET_KEY for this machine, readable by you only).")
    data_dir_private(data_dir)
