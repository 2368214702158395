"""Make docs/screenshots/: every main page of the studio at a laptop's 1366x900 and a phone's 390x844, drawn by the
shipped models.

Runs the embedded studio (`manage.py runstudio`: SQLite, daphne and a Celery worker) on a throwaway
T2I_VAR_DIR, adds a staff account, then in headless Chromium: the signed-out pages; the create page warning
about words the model does not know; a four-image job painted through the create page, once done; the image
page with a rating, then its word-by-word attention overlay; the galleries; the arena with a pair painted; the
403 a creator gets on the staff model page, and that page for staff. Each PNG is reduced to 256 colours (the
studio's flat dark theme loses nothing).

    .venv/bin/python docs/screenshots.py [--port 8766] [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SIZES = {"desktop": (1366, 900), "phone": (390, 844)}
PROMPT = "a red circle to the left of a blue square"
SEED = 14
STAFF = ("stella", "a staff passphrase for the docs")


def wait_for_server(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"the studio did not answer at {url} within {timeout:.0f} s")


def shoot(page, out: Path, name: str) -> None:
    """One page at both sizes, the whole page long, as a 256-colour PNG."""
    for size, (width, height) in SIZES.items():
        page.set_viewport_size({"width": width, "height": height})
        page.wait_for_timeout(300)  # the layout settles after the resize
        path = out / f"{name}-{size}.png"
        page.screenshot(path=str(path), full_page=True)
        Image.open(path).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        print(f"wrote {path.relative_to(ROOT)}")
    page.set_viewport_size({"width": SIZES["desktop"][0], "height": SIZES["desktop"][1]})


def sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def sign_out(page) -> None:
    with page.expect_navigation():
        page.click("header form button[type=submit]")


def creator_pages(page, base: str, out: Path) -> None:
    sign_in(page, base, os.environ.get("T2I_DEMO_USER", "demo"), os.environ.get("T2I_DEMO_PASSWORD", "studio-demo"))
    page.fill("#id_prompt", "a photo of a cat on a sofa")
    page.wait_for_selector("#prompt-hint.warn-text")
    shoot(page, out, "create-unknown-words")

    page.fill("#id_prompt", PROMPT)
    page.fill("#id_seed", str(SEED))
    page.select_option("#id_num_images", "4")
    page.click("#prompt-form button[type=submit]")
    page.wait_for_url(f"{base}/jobs/*/")
    page.wait_for_selector('.job[data-status="succeeded"] #results .job-result img', timeout=600_000)
    page.wait_for_load_state("networkidle")
    shoot(page, out, "job")

    page.click("#results .job-result a")
    page.wait_for_selector(".star-input")
    page.click("label[for=star5]")
    page.fill("textarea[name=comment]", "Both shapes, on the right sides.")
    page.click(".rating-form button[type=submit]")
    page.wait_for_selector("text=Update rating")
    page.click("form[action$='/visibility/'] button[type=submit]")  # shared, so Explore shows it
    page.wait_for_load_state("networkidle")
    shoot(page, out, "image")
    page.click("#attention .chip:text-is('circle')")  # where the model looked for the circle
    page.wait_for_selector("#heatmap", state="visible")
    shoot(page, out, "image-attention")

    page.goto(f"{base}/images/")
    shoot(page, out, "my-images")
    page.goto(f"{base}/explore/")
    shoot(page, out, "explore")
    page.goto(f"{base}/")
    shoot(page, out, "create")

    page.goto(f"{base}/arena/")
    page.click("#arena-start")
    page.wait_for_selector('#arena[data-status="ready"]', timeout=600_000)
    page.wait_for_function("document.getElementById('image-b').naturalWidth > 0")
    shoot(page, out, "arena")
    page.goto(f"{base}/modelops/")
    shoot(page, out, "not-allowed")
    sign_out(page)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8766)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory(prefix="t2i-screenshots-") as var_dir:
        # the embedded mode (no services), with its database, files and MLflow registry in the throwaway folder
        env = {**os.environ, "T2I_VAR_DIR": var_dir, "T2I_DATA_DIR": var_dir}
        env["DJANGO_SETTINGS_MODULE"] = "t2i_site.settings.local"
        for name in ("REDIS_URL", "MLFLOW_TRACKING_URI", "DATABASE_URL"):
            env.pop(name, None)
        studio = subprocess.Popen(
            [sys.executable, "manage.py", "runstudio", "--port", str(args.port)],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )
        try:
            wait_for_server(f"{base}/accounts/login/")
            staff_env = {
                **env,
                "DJANGO_SUPERUSER_USERNAME": STAFF[0],
                "DJANGO_SUPERUSER_PASSWORD": STAFF[1],
                "DJANGO_SUPERUSER_EMAIL": "stella@example.com",
            }
            subprocess.run(
                [sys.executable, "manage.py", "createsuperuser", "--noinput"], cwd=ROOT, env=staff_env, check=True
            )
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1366, "height": 900}, device_scale_factor=1)
                page.set_default_timeout(120_000)
                for name, path in (("home", "/"), ("sign-in", "/accounts/login/"), ("sign-up", "/accounts/signup/")):
                    page.goto(base + path)
                    shoot(page, out, name)
                creator_pages(page, base, out)
                sign_in(page, base, *STAFF)
                page.goto(f"{base}/modelops/")
                shoot(page, out, "modelops")
                browser.close()
        finally:
            os.killpg(studio.pid, signal.SIGTERM)  # runstudio and its daphne and worker, started above
            studio.wait(timeout=60)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
