#!/usr/bin/env python
"""Take the storefront's and admin's screenshots for docs/screenshots/.

Starts the real thing on a throw-away database: migrate, seed, gunicorn on a free port and a
qcluster worker (simulated providers at latency 0, deterministic outcomes), then drives
Debian's Chromium through the pages a customer and a member of staff see and saves PNGs.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--chromium /usr/bin/chromium]
"""
import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import ExitStack, closing
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
CUSTOMER = ("casey@example.com", "Casey Customer")
STAFF = ("staff@example.com", "Sam Staff")
PASSWORD = "Screenshot-Passw0rd!"
SHIPPING = {"Street address": "1 Market Street", "City": "Springfield", "State": "IL", "ZIP code": "62701"}
CARD_APPROVE = "4242 4242 4242 4242"
CARD_DECLINE = "4000 0000 0000 0002"
VIEWPORT = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# One random key for the server and worker of this run; none is kept anywhere.
RUN_SECRET_KEY = secrets.token_urlsafe(50)


def app_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "store.settings",
        "DATA_DIR": str(data_dir),
        "DATABASE_URL": "",
        "REDIS_URL": "",
        "DEBUG": "0",
        "SECRET_KEY": RUN_SECRET_KEY,
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "STATIC_MANIFEST": "0",
        "WHITENOISE_USE_FINDERS": "1",
        "SIM_LATENCY_SCALE": "0",
        "PIPELINE_BACKOFF_SCALE": "0",
        "SIM_SEED": "screenshots",
        # Deterministic pictures: the warehouse and the carrier always succeed unless a test
        # trigger (card or ZIP) says otherwise.
        "SIM_INVENTORY_AVAILABLE_RATE": "1",
        "SIM_SHIPPING_SUCCESS_RATE": "1",
        # The carrier's updates happen with the label and the pipeline asks for them at once.
        "SIM_TRACKING_STEP_SECONDS": "0",
        "SIM_TRACKING_CALLBACKS": "0",
        "TRACKING_WAIT_SCALE": "0",
        "Q_CLUSTER_NAME": "screenshots",
        "Q_LOG_LEVEL": "ERROR",
        "LOG_LEVEL": "WARNING",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
        # The demo's staff account signs in to the admin with its password alone, as in `make run`.
        "STAFF_REQUIRE_2FA": "0",
    }


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, check=True, stdout=subprocess.DEVNULL)


def prepare_database(env: dict[str, str]) -> None:
    manage(env, "migrate", "--noinput")
    commands = subprocess.run([PYTHON, "manage.py", "help", "--commands"], cwd=BASE_DIR, env=env, check=True,
                              capture_output=True, text=True).stdout.split()
    if "store_bootstrap" in commands:
        manage(env, "store_bootstrap")
    else:
        manage(env, "loaddata", "fixtures/products.json")
    create_users = (
        "from django.contrib.auth import get_user_model; U = get_user_model(); "
        f"U.objects.create_user(email={CUSTOMER[0]!r}, name={CUSTOMER[1]!r}, password={PASSWORD!r}); "
        f"U.objects.create_superuser(email={STAFF[0]!r}, name={STAFF[1]!r}, password={PASSWORD!r})"
    )
    manage(env, "shell", "-c", create_users)


def start(stack: ExitStack, args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    out = stack.enter_context(open(log, "wb"))  # noqa: SIM115 - closed by the ExitStack
    process = subprocess.Popen(args, cwd=BASE_DIR, env=env, stdout=out, stderr=subprocess.STDOUT,
                               start_new_session=True)

    def stop() -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    stack.callback(stop)
    return process


def wait_until_up(url: str, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the web server stopped:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    sys.exit(f"the web server did not answer {url} within {timeout}s")


# --- the tour -----------------------------------------------------------------------------

class Tour:
    def __init__(self, base_url: str, out: Path) -> None:
        self.base_url = base_url
        self.out = out

    def shot(self, page, name: str, *, full_page: bool = True) -> None:
        page.wait_for_load_state("networkidle")
        # A picture that failed to load (missing file, wrong type, refused by the policy) fails the tour.
        broken = page.evaluate("[...document.images].filter(i => i.complete && !i.naturalWidth).map(i => i.src)")
        if broken:
            raise RuntimeError(f"{name}: pictures that did not load: {broken}")
        path = self.out / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page, animations="disabled")
        print(f"  {path.relative_to(BASE_DIR) if path.is_relative_to(BASE_DIR) else path}")

    def goto(self, page, path: str):
        response = page.goto(f"{self.base_url}{path}")
        if response is None or response.status >= 400:
            raise RuntimeError(f"{path} answered {response.status if response else 'nothing'}")
        return response

    def log_in(self, page, email: str) -> None:
        page.get_by_label("E-mail address").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()

    def dismiss_toasts(self, page) -> None:
        page.evaluate("document.querySelectorAll('#toasts .toast').forEach(t => t.remove())")

    def place_order(self, page, products: list[str], *, card: str, zip_code: str = "62701") -> str:
        for product in products:
            self.goto(page, "/")
            page.get_by_role("button", name=f"Add to Cart: {product}").click()
            page.locator("#toasts").get_by_text(f"{product} added to cart").wait_for()
        self.goto(page, "/checkout/")
        for label, value in {**SHIPPING, "ZIP code": zip_code}.items():
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_label("Card number").fill(card)
        page.get_by_role("button", name="Place order").click()
        page.wait_for_url("**/orders/*/")
        return page.url

    def wait_for_state(self, page, state: str) -> None:
        page.locator("#order-status").get_by_role("status").get_by_text(state, exact=True).wait_for(timeout=60_000)

    def run(self, browser) -> None:
        customer = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        page = customer.new_page()
        page.set_default_timeout(20_000)

        self.goto(page, "/")
        self.shot(page, "01-catalog")

        self.goto(page, "/products/prod-001/")
        page.get_by_role("button", name="Add to Cart").click()
        page.locator("#toasts").get_by_text("Mechanical Keyboard added to cart").wait_for()
        self.shot(page, "02-product", full_page=False)

        self.goto(page, "/")
        for product in ("Wireless Mouse", "Desk Mat"):
            page.get_by_role("button", name=f"Add to Cart: {product}").click()
            page.locator("#toasts").get_by_text(f"{product} added to cart").wait_for()
        self.goto(page, "/cart/")
        page.get_by_role("button", name="Increase quantity of Wireless Mouse").click()
        page.locator("#cart-count").get_by_text("4", exact=True).wait_for()
        self.dismiss_toasts(page)
        self.shot(page, "03-cart")

        page.get_by_role("link", name="Proceed to checkout").click()
        self.log_in(page, CUSTOMER[0])
        page.get_by_role("heading", level=1, name="Checkout").wait_for()
        for label, value in SHIPPING.items():
            page.get_by_label(label, exact=True).fill(value)
        page.get_by_label("Card number").fill(CARD_APPROVE)
        self.dismiss_toasts(page)
        self.shot(page, "04-checkout")

        page.get_by_role("button", name="Place order").click()
        page.wait_for_url("**/orders/*/")
        delivered_url = page.url
        self.wait_for_state(page, "Delivered")
        self.dismiss_toasts(page)
        self.shot(page, "05-order-delivered")

        self.place_order(page, ["USB-C Hub"], card=CARD_DECLINE)
        self.wait_for_state(page, "Failed")
        self.dismiss_toasts(page)
        self.shot(page, "06-order-payment-failed")

        self.place_order(page, ["Laptop Stand"], card=CARD_APPROVE, zip_code="00500")
        self.wait_for_state(page, "Refunded")
        self.dismiss_toasts(page)
        self.shot(page, "07-order-refunded")

        self.goto(page, "/orders/")
        self.shot(page, "08-orders")

        self.goto(page, "/notifications/")
        self.shot(page, "09-notifications")

        self.goto(page, "/accounts/profile/")
        self.shot(page, "10-profile")

        # The same customer on a phone: the header folds into a menu, the order page stacks.
        phone = browser.new_context(viewport=PHONE, device_scale_factor=1, storage_state=customer.storage_state())
        customer.close()
        page = phone.new_page()
        page.set_default_timeout(20_000)
        self.goto(page, "/")
        self.shot(page, "12-phone-catalog", full_page=False)
        page.get_by_role("button", name="Menu").click()
        self.shot(page, "13-phone-menu", full_page=False)
        page.goto(delivered_url)
        self.wait_for_state(page, "Delivered")
        self.shot(page, "14-phone-order")
        phone.close()

        staff = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
        page = staff.new_page()
        page.set_default_timeout(20_000)
        self.goto(page, "/admin/login/?next=/admin/")
        page.locator("#id_username").fill(STAFF[0])
        page.locator("#id_password").fill(PASSWORD)
        page.locator("input[type=submit], button[type=submit]").first.click()
        page.wait_for_url("**/admin/")
        order_id = delivered_url.rstrip("/").rsplit("/", 1)[-1]
        response = page.goto(f"{self.base_url}/admin/orders/order/{order_id}/change/")
        if response is not None and response.status == 200:
            self.shot(page, "11-admin-order")
        else:
            print(f"  (skipped the admin order page: it answered {response.status if response else 'nothing'};"
                  " is the Order admin registered?)")
        staff.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BASE_DIR / "docs" / "screenshots")
    parser.add_argument("--chromium", default=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
    parser.add_argument("--keep-data", action="store_true", help="Keep the temporary data directory.")
    options = parser.parse_args()
    if not Path(options.chromium).exists():
        sys.exit(f"{options.chromium} is missing: install Debian's chromium package or pass --chromium")

    from playwright.sync_api import sync_playwright

    options.out.mkdir(parents=True, exist_ok=True)
    data_dir = Path(tempfile.mkdtemp(prefix="store-screenshots-"))
    env = app_env(data_dir)
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    try:
        print(f"Preparing a fresh shop in {data_dir}")
        prepare_database(env)
        with ExitStack() as stack:
            web_log, worker_log = data_dir / "web.log", data_dir / "worker.log"
            web = start(stack, [PYTHON, "-m", "gunicorn", "store.wsgi", "--bind", f"127.0.0.1:{port}",
                                "--workers", "2", "--threads", "4"], env, web_log)
            start(stack, [PYTHON, "manage.py", "qcluster"], env, worker_log)
            wait_until_up(f"{base_url}/livez", web, web_log)
            print(f"Shop at {base_url}; saving screenshots to {options.out}")
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=options.chromium,
                    headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
                )
                try:
                    Tour(base_url, options.out).run(browser)
                finally:
                    browser.close()
    finally:
        if options.keep_data:
            print(f"Data kept in {data_dir}")
        else:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
