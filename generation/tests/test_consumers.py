"""WebSockets through the real ASGI stack (origin check, session and token auth) with WebsocketCommunicator."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from generation.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from generation.tests.factories import GeneratedImageFactory, GenerationJobFactory

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


def _application():
    from t2i_site.asgi import application

    return application


def _session_headers(client_as, user) -> list[tuple[bytes, bytes]]:
    client = client_as(user)
    return [(b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode()), (b"origin", b"http://localhost")]


async def _connect(path: str, headers) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(_application(), path, headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert connected
    return communicator


async def _close_code(communicator) -> int:
    message = await communicator.receive_output(timeout=5)
    assert message["type"] == "websocket.close"
    return message["code"]


async def test_anonymous_socket_is_closed_as_unauthenticated(model_version):
    job = await database_sync_to_async(GenerationJobFactory)()
    communicator = await _connect(f"/ws/jobs/{job.pk}/", [(b"origin", b"http://localhost")])
    assert await _close_code(communicator) == CLOSE_UNAUTHENTICATED


async def test_other_users_job_closes_exactly_like_a_missing_one(client_as, alice, bob, model_version):
    job = await database_sync_to_async(GenerationJobFactory)(user=alice)
    headers = await database_sync_to_async(_session_headers)(client_as, bob)

    for path in (f"/ws/jobs/{job.pk}/", f"/ws/jobs/{job.pk + 1000}/"):
        communicator = await _connect(path, headers)
        assert await _close_code(communicator) == CLOSE_NOT_FOUND


async def test_staff_gets_no_socket_on_someone_elses_private_job(client_as, alice, staff, model_version):
    job = await database_sync_to_async(GenerationJobFactory)(user=alice)
    headers = await database_sync_to_async(_session_headers)(client_as, staff)
    communicator = await _connect(f"/ws/jobs/{job.pk}/", headers)
    assert await _close_code(communicator) == CLOSE_NOT_FOUND


async def test_late_joiner_first_receives_the_finished_jobs_images(client_as, alice, model_version):
    image = await database_sync_to_async(GeneratedImageFactory)(user=alice)
    headers = await database_sync_to_async(_session_headers)(client_as, alice)

    communicator = await _connect(f"/ws/jobs/{image.job_id}/", headers)
    event = await communicator.receive_json_from(timeout=5)

    assert event["type"] == "completed" and event["job"] == image.job_id
    assert [i["id"] for i in event["images"]] == [image.pk]
    assert event["images"][0]["url"] == f"/api/images/{image.pk}/file/"
    await communicator.disconnect()


async def test_late_joiner_of_a_running_job_gets_its_progress_and_preview(client_as, alice, model_version):
    job = await database_sync_to_async(GenerationJobFactory)(
        user=alice, status="running", step=3, total_steps=5, progress=0.6, preview="data:image/png;base64,AAAA"
    )
    headers = await database_sync_to_async(_session_headers)(client_as, alice)
    communicator = await _connect(f"/ws/jobs/{job.pk}/", headers)

    event = await communicator.receive_json_from(timeout=5)
    assert event == {
        "type": "progress",
        "job": job.pk,
        "step": 3,
        "total": 5,
        "percent": 60.0,
        "eta_s": None,
        "preview": "data:image/png;base64,AAAA",
    }
    await communicator.disconnect()


async def test_token_header_authenticates_the_user_stream_without_origin(api_as, alice, model_version):
    job = await database_sync_to_async(GenerationJobFactory)(user=alice)  # queued: the stream reports it
    client = await database_sync_to_async(api_as)(alice)
    token = client._credentials["HTTP_AUTHORIZATION"].encode()

    communicator = await _connect("/ws/jobs/", [(b"authorization", token)])
    assert await communicator.receive_json_from(timeout=5) == {"type": "queued", "job": job.pk}
    await communicator.disconnect()


async def test_a_bad_token_is_anonymous(model_version):
    communicator = await _connect("/ws/jobs/", [(b"authorization", b"Token not-a-real-token")])
    assert await _close_code(communicator) == CLOSE_UNAUTHENTICATED


async def test_a_foreign_origin_cannot_use_the_session_cookie(client_as, alice, model_version):
    headers = await database_sync_to_async(_session_headers)(client_as, alice)
    headers = [h for h in headers if h[0] != b"origin"] + [(b"origin", b"http://evil.example")]
    communicator = WebsocketCommunicator(_application(), "/ws/jobs/", headers=headers)
    connected, _ = await communicator.connect(timeout=5)
    assert not connected  # refused at the handshake (HTTP 403)


async def test_worker_progress_streams_to_the_socket_then_completes(client_as, alice, worker, held_enqueue):
    from generation.services import generation_job_submit

    job = await database_sync_to_async(generation_job_submit)(
        user=alice, text="a blue square above a red circle", steps=4, seed=3
    )
    headers = await database_sync_to_async(_session_headers)(client_as, alice)
    communicator = await _connect(f"/ws/jobs/{job.pk}/", headers)
    assert (await communicator.receive_json_from(timeout=5))["type"] == "queued"

    held_enqueue.release()  # only now that the socket listens does the worker get the job
    events = []
    while not events or events[-1]["type"] not in ("completed", "failed", "cancelled"):
        events.append(await communicator.receive_json_from(timeout=30))

    progress = [e for e in events if e["type"] == "progress"]
    assert [e["step"] for e in progress] == [1, 2, 3, 4]
    assert progress[-1]["percent"] == 100.0 and progress[-1]["eta_s"] == 0
    assert progress[0]["preview"].startswith("data:image/webp;base64,")  # then at most a few a second
    assert all(e["preview"] == "" or e["preview"].startswith("data:image/webp;base64,") for e in progress)
    assert events[-1]["type"] == "completed" and len(events[-1]["images"]) == 1
    await communicator.disconnect()
