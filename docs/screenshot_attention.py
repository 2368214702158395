"""Make docs/screenshot-attention.png: the image page's word-by-word attention overlay, from the shipped model.

Runs the embedded studio (`manage.py runstudio`: SQLite, daphne and a Celery worker) on a throwaway
T2I_VAR_DIR, signs in as the demo account in headless Chromium, generates the prompt with a fixed seed
through the site, opens the image, chooses a word and saves the page.

    .venv/bin/python docs/screenshot_attention.py [--word circle] [--seed 2] [--port 8765]
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

ROOT = Path(__file__).resolve().parent.parent
PROMPT = "a red circle to the left of a blue square"


def wait_for_server(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            time.sleep(1)
    raise RuntimeError(f"the studio did not answer at {url} within {timeout:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--word", default="circle", help="the word whose map the screenshot shows")
    parser.add_argument("--seed", type=int, default=14)  # an image that has both objects where the prompt says
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot-attention.png"))
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory(prefix="t2i-screenshot-") as var_dir:
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
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1280, "height": 860}, device_scale_factor=1)
                page.set_default_timeout(600_000)
                page.goto(f"{base}/accounts/login/")
                page.fill("#id_username", "demo")
                page.fill("#id_password", "studio-demo")
                page.click("main button[type=submit]")
                page.wait_for_url(f"{base}/")
                page.fill("#id_prompt", args.prompt)
                page.fill("#id_seed", str(args.seed))
                page.click("#prompt-form button[type=submit]")
                page.wait_for_selector("#results a.result")
                page.click("#results a.result")
                page.wait_for_selector("#attention .chip")
                page.click(f"#attention .chip:text-is('{args.word}')")
                page.wait_for_selector("#heatmap", state="visible")
                page.screenshot(path=args.out)
                browser.close()
        finally:
            os.killpg(studio.pid, signal.SIGTERM)  # runstudio and its daphne and worker, started above
            studio.wait(timeout=60)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
