"""`make run`'s embedded mode as a newcomer gets it: `manage.py runstudio` with no services, then Ctrl-C.

Three real processes (runstudio, daphne, a Celery worker) share SQLite, the filesystem broker and the
SQLite channel layer; progress must cross from the worker process to a WebSocket served by daphne.
"""

import asyncio
import os
import signal
import subprocess
import time

import aiohttp
import pytest

from tests.servers import embedded_studio_start, free_port


def _group_pids(pgid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return [int(pid) for pid in out.split()]


@pytest.fixture
def studio(tmp_path, tiny_model_dir):
    port = free_port()
    process, _ = embedded_studio_start(port=port, tmp=tmp_path, model_dir=tiny_model_dir)
    try:
        yield process, f"127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)


async def _follow_one_job(address: str) -> tuple[list[dict], int]:
    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 90
        while True:  # the studio migrates, registers the model and starts two processes first
            try:
                async with http.get(f"http://{address}/") as response:
                    if response.status == 200:
                        break
            except aiohttp.ClientConnectionError:
                pass
            assert time.monotonic() < deadline, "the studio did not start"
            await asyncio.sleep(0.5)
        async with http.post(
            f"http://{address}/api/auth/token/", json={"username": "demo", "password": "studio-demo"}
        ) as r:
            headers = {"Authorization": f"Token {(await r.json())['token']}"}
        async with http.ws_connect(f"ws://{address}/ws/jobs/", headers=headers) as socket_:
            async with http.post(
                f"http://{address}/api/jobs/", json={"prompt": "a red circle", "steps": 5}, headers=headers
            ) as r:
                assert r.status == 201
                job_id = (await r.json())["id"]
            events = []
            while not events or events[-1]["type"] not in ("completed", "failed", "cancelled"):
                events.append(await socket_.receive_json(timeout=60))
        image_url = events[-1]["images"][0]["url"]
        async with http.get(f"http://{address}{image_url}", headers=headers) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "image/png"
    return events, job_id


def test_embedded_studio_streams_worker_progress_to_websockets_and_stops_on_ctrl_c(studio):
    process, address = studio

    events, job_id = asyncio.run(_follow_one_job(address))

    progress = [e for e in events if e["type"] == "progress" and e["job"] == job_id]
    assert [e["step"] for e in progress] == [1, 2, 3, 4, 5]
    assert progress[0]["preview"].startswith("data:image/webp;base64,")
    assert events[-1]["type"] == "completed"

    children = [pid for pid in _group_pids(process.pid) if pid != process.pid]
    assert len(children) == 2  # daphne and the worker
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends to the whole group
    assert process.wait(timeout=30) == 0
    time.sleep(0.5)
    assert _group_pids(process.pid) == []  # nothing left behind
