"""HTTP under daphne runs each request whole on one reused pool thread, and closes every response there (what
fires Django's request_finished); the studio's pages and API answer through it."""

import asyncio
import threading

import pytest
from asgiref.testing import ApplicationCommunicator

from t2i_site.http_pool import PooledWsgiToAsgi


def _request(application, path: str, method: str = "GET", headers=(), body: bytes = b"") -> tuple[int, bytes]:
    async def run():
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "root_path": "",
            "query_string": b"",
            "headers": [(b"host", b"127.0.0.1"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8000),
        }
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": body})
        start = await communicator.receive_output(10)
        chunks = []
        while True:
            message = await communicator.receive_output(10)
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        await communicator.wait(10)
        return start["status"], b"".join(chunks)

    return asyncio.run(run())


def test_each_request_runs_on_a_reused_pool_thread_that_closes_its_response():
    ran, closed = [], []

    class Body(list):
        def close(self):
            closed.append(threading.current_thread().name)

    def wsgi(environ, start_response):
        ran.append(threading.current_thread().name)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body([b"hello ", environ["PATH_INFO"].encode(), b" from ", environ["REMOTE_ADDR"].encode()])

    application = PooledWsgiToAsgi(wsgi, threads=1)
    assert _request(application, "/a") == (200, b"hello /a from 127.0.0.1")
    assert _request(application, "/b") == (200, b"hello /b from 127.0.0.1")
    assert ran == closed and len(set(ran)) == 1 and ran[0].startswith("http")
    assert ran[0] != threading.current_thread().name


def test_an_abandoned_response_is_closed_too():
    closed = []

    def chunks():
        try:
            yield b"12345"
            yield b"never sent"
        finally:
            closed.append(True)

    def wsgi(environ, start_response):
        start_response("200 OK", [("Content-Length", "5")])  # the server stops after five bytes
        return chunks()

    assert _request(PooledWsgiToAsgi(wsgi, threads=2), "/") == (200, b"12345")
    assert closed == [True]


@pytest.mark.django_db(transaction=True)
def test_the_studio_answers_http_through_the_pool(alice):
    from t2i_site.asgi import application

    status, body = _request(application, "/accounts/login/")
    assert status == 200 and b"<form" in body
    status, body = _request(application, "/api/jobs/")
    assert status in (401, 403) and b"detail" in body
