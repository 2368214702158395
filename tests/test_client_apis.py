"""The clients integrators already have, unchanged, against `make run`'s embedded studio: the `openai` package on
/v1/, `webuiapi` on /sdapi/v1/, and a Stable Diffusion folder of one's own registered with `register_model`.

One studio serves the module (runstudio: daphne and a Celery worker, SQLite, the tiny random Shapes model behind
"diffusion", the bundled GAN, and a tiny random Stable Diffusion folder built here and registered as "tiny-sd").
"""

import base64
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request

import openai
import pytest
import webuiapi
from PIL import Image

from tests.servers import ROOT, embedded_studio_start, free_port, wait_until_answers

DEMO_USER, DEMO_PASSWORD = "demo", "studio-demo"


@pytest.fixture(scope="module")
def studio(tmp_path_factory, tiny_model_dir):
    from ml_engine.pipelines.tiny import save_tiny_stable_diffusion

    tmp = tmp_path_factory.mktemp("clients")
    sd_folder = save_tiny_stable_diffusion(tmp / "tiny-sd")
    port = free_port()
    process, env = embedded_studio_start(port=port, tmp=tmp, model_dir=tiny_model_dir)
    try:
        wait_until_answers(f"http://127.0.0.1:{port}/", process, timeout=120)
        registered = subprocess.run(
            [sys.executable, "manage.py", "register_model", str(sd_folder), "--name", "tiny-sd", "--steps", "4"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert registered.returncode == 0, registered.stderr
        yield f"127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def _api_key(address: str) -> str:
    request = urllib.request.Request(
        f"http://{address}/api/auth/token/",
        data=json.dumps({"username": DEMO_USER, "password": DEMO_PASSWORD}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)["token"]


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image


def test_the_openai_package_generates_b64_pngs_and_fetchable_urls(studio):
    client = openai.OpenAI(base_url=f"http://{studio}/v1", api_key=_api_key(studio), timeout=300)

    result = client.images.generate(
        model="diffusion", prompt="a red circle", n=2, size="64x64", response_format="b64_json"
    )
    assert [_png(base64.b64decode(item.b64_json)).size for item in result.data] == [(64, 64)] * 2

    linked = client.images.generate(model="diffusion", prompt="a blue square", size="64x64", response_format="url")
    with urllib.request.urlopen(linked.data[0].url, timeout=30) as response:  # no key: the link is signed
        assert response.headers["Content-Type"] == "image/png" and _png(response.read()).size == (64, 64)

    assert {"diffusion", "gan", "tiny-sd"} <= {model.id for model in client.models.list()}
    with pytest.raises(openai.BadRequestError) as refused:
        client.images.generate(model="diffusion", prompt="a red circle", size="1024x1024")
    assert refused.value.body["param"] == "size" and "64x64" in refused.value.body["message"]


def test_webuiapi_lists_models_and_reproduces_a_seed_with_its_defaults(studio):
    host, port = studio.split(":")
    api = webuiapi.WebUIApi(host=host, port=int(port), username=DEMO_USER, password=DEMO_PASSWORD)  # Euler a, automatic

    names = [model["model_name"] for model in api.get_sd_models()]
    assert {"diffusion", "gan", "tiny-sd"} <= set(names) and len(set(names)) == len(names), names
    first = api.txt2img(prompt="a red circle", seed=11, batch_size=2, width=64, height=64, steps=4)
    second = api.txt2img(prompt="a red circle", seed=11, batch_size=2, width=64, height=64, steps=4)

    assert [image.size for image in first.images] == [(64, 64)] * 2
    assert [image.tobytes() for image in first.images] == [image.tobytes() for image in second.images]
    assert first.images[0].tobytes() != first.images[1].tobytes()  # seeds 11 and 12 drew different pictures
    assert first.info["seed"] == 11 and first.info["all_seeds"] == [11, 12]
    assert first.info["sampler_name"] == "Euler a"
    info = api.png_info(first.image).info
    assert info.startswith("a red circle\n") and "Seed: 11" in info and "Sampler: Euler a" in info


def test_webuiapi_progress_answers_while_its_txt2img_waits(studio):
    host, port = studio.split(":")
    api = webuiapi.WebUIApi(host=host, port=int(port), username=DEMO_USER, password=DEMO_PASSWORD)
    done = {}
    waiting = threading.Thread(
        target=lambda: done.setdefault("result", api.txt2img(prompt="a green triangle", steps=60, width=64, height=64))
    )
    waiting.start()
    polls = []
    while waiting.is_alive():
        polls.append(api.get_progress())
        time.sleep(0.05)
    waiting.join()

    assert done["result"].images and polls  # the poll was answered while the synchronous request waited
    assert all({"progress", "eta_relative", "state", "current_image"} <= set(poll) for poll in polls)
    assert any(poll["state"]["sampling_steps"] == 60 for poll in polls)


def test_a_registered_stable_diffusion_folder_serves_a_job_through_the_job_api(studio):
    headers = {"Authorization": f"Token {_api_key(studio)}", "Content-Type": "application/json"}
    body = json.dumps({"prompt": "a red circle", "model": "tiny-sd", "seed": 3}).encode()
    request = urllib.request.Request(f"http://{studio}/api/jobs/", data=body, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        job = json.load(response)
    assert (job["model"], job["steps"]) == ("tiny-sd", 4)  # register_model's --steps is its default

    deadline = time.monotonic() + 120
    while job["status"] in ("queued", "running"):
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
        with urllib.request.urlopen(
            urllib.request.Request(f"http://{studio}/api/jobs/{job['id']}/", headers=headers)
        ) as r:
            job = json.load(r)
    assert job["status"] == "succeeded", job["error"]
    image_request = urllib.request.Request(f"http://{studio}{job['images'][0]['url']}", headers=headers)
    with urllib.request.urlopen(image_request, timeout=30) as response:
        assert _png(response.read()).size == (64, 64)
