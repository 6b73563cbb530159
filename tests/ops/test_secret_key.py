"""No public secret: without SECRET_KEY, `make run` signs with a random key of this machine's own,
kept in DATA_DIR (owner-only), the same on the next start; the repository holds no key."""
import json
import stat
import subprocess
import sys
import urllib.request

import jwt
import pytest

from tests.conftest import BASE_DIR, wait_for
from tests.ops.conftest import MakeRun, clean_env, free_port, http_get


def settings_key(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings; "
                               "print(settings.SECRET_KEY)"],
        cwd=BASE_DIR, env={**env, "DJANGO_SETTINGS_MODULE": "store.settings"}, capture_output=True, text=True,
        timeout=60,
    )


def test_the_settings_refuse_to_start_without_a_key(tmp_path):
    result = settings_key(clean_env(tmp_path, DEBUG="1"))

    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "make run" in result.stderr


def test_make_creates_one_owner_only_key_and_the_settings_read_it(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    env = clean_env(data_dir)
    for _ in range(2):
        subprocess.run(["make", "--no-print-directory", "secret-key"], cwd=BASE_DIR, env=env, check=True,
                       capture_output=True, timeout=120)

    path = data_dir / "secret_key"
    key = path.read_text().strip()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # The folder holds the database (sessions, tokens) too: its owner's only.
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert len(key) >= 50
    assert settings_key(env).stdout.strip() == key
    assert settings_key({**env, "DEBUG": "0"}).stdout.strip() == key
    tracked = subprocess.run(["git", "grep", "-l", "-F", key], cwd=BASE_DIR, capture_output=True, text=True)
    assert tracked.stdout == ""
    # The environment's key wins, as a deployment of several machines needs.
    assert settings_key({**env, "SECRET_KEY": "x" * 60}).stdout.strip() == "x" * 60


@pytest.mark.parametrize("content", ["", "\n", "short"])
def test_a_key_file_that_holds_no_key_is_named_as_the_problem(tmp_path, content):
    (tmp_path / "secret_key").write_text(content)

    result = settings_key(clean_env(tmp_path))

    assert result.returncode != 0
    assert f"{tmp_path / 'secret_key'} holds {len(content.strip())} characters" in result.stderr
    assert "Delete it" in result.stderr


def test_keys_created_by_processes_starting_together_are_one(tmp_path):
    from store.secret_key import secret_key_create

    code = f"from store.secret_key import secret_key_create; secret_key_create(__import__('pathlib').Path({str(tmp_path)!r}))"
    processes = [subprocess.Popen([sys.executable, "-c", code], cwd=BASE_DIR) for _ in range(8)]
    assert [process.wait(timeout=60) for process in processes] == [0] * 8

    key = (tmp_path / "secret_key").read_text()
    secret_key_create(tmp_path)
    assert (tmp_path / "secret_key").read_text() == key
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]


@pytest.mark.worker
def test_make_run_without_a_key_signs_with_its_own_and_keeps_it_across_restarts(tmp_path):
    port = free_port()
    env = clean_env(tmp_path / "data", PORT=port, WORKER_METRICS_PORT=free_port(), HOST="127.0.0.1")
    base = f"http://127.0.0.1:{port}"

    def run_until_serving(name: str) -> MakeRun:
        run = MakeRun(env, tmp_path / f"{name}.log")
        run.start()

        def serving():
            assert run.process.poll() is None, run.output()[-3000:]
            try:
                return http_get(f"{base}/livez", timeout=1)[0] == 200
            except OSError:
                return False

        wait_for(serving, timeout=180, interval=0.5, message="make run to serve /livez")
        return run

    first = run_until_serving("first")
    try:
        key = (tmp_path / "data" / "secret_key").read_text().strip()
        request = urllib.request.Request(
            f"{base}/api/auth/register", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"email": "first@example.com", "password": "Sturdy-Passw0rd!", "name": "First"}).encode(),
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            token = json.loads(response.read())["token"]
        assert jwt.decode(token, key, algorithms=["HS256"])["user_id"]  # signed with the machine's key
    finally:
        first.stop()

    second = run_until_serving("second")
    try:
        assert (tmp_path / "data" / "secret_key").read_text().strip() == key
        status, _, body = http_get(f"{base}/api/auth/profile", headers={"Authorization": f"Bearer {token}"})
        assert status == 200, body
        assert json.loads(body)["email"] == "first@example.com"
    finally:
        second.stop()
