"""HTTP under daphne: Django's WSGI handler on a pool of reused threads, one hop from the event loop a request.

Django's ASGI handler runs a synchronous view in a thread it starts for that request and hops between the event
loop and that thread around each middleware: about 34 hops and two new threads a request, and a new database
connection every time (a connection belongs to its thread). Nothing on the studio's HTTP side is async (the
WebSockets go through Channels), so it is served the way a threaded WSGI server serves Django: each request runs
whole on one of T2I_WEB_THREADS threads, which keep their database connections (CONN_MAX_AGE) between requests.
A job submission through daphne took 27 ms through the ASGI handler and 15 ms through this one on the same
machine (bench/bench_studio.py measures the studio end to end).

asgiref's WsgiToAsgi does the translation; this adds the pool and closes each response in its thread, as a WSGI
server must (that fires Django's request_finished: connections past their age are closed, files released).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from asgiref.wsgi import WsgiToAsgi, WsgiToAsgiInstance

_RUN_WSGI_APP = WsgiToAsgiInstance.__dict__["run_wsgi_app"].func  # the undecorated body: it runs in our pool


def _closing(wsgi_application):
    """The application, its response closed once sent (or abandoned), in the thread that made it."""

    def application(environ, start_response):
        response = wsgi_application(environ, start_response)
        try:
            yield from response
        finally:
            close = getattr(response, "close", None)
            if close is not None:
                close()

    return application


class _PooledInstance(WsgiToAsgiInstance):
    def __init__(self, wsgi_application, duplicate_header_limit: int, executor: ThreadPoolExecutor):
        super().__init__(wsgi_application, duplicate_header_limit)
        self.executor = executor

    async def run_wsgi_app(self, body):
        await sync_to_async(_RUN_WSGI_APP, thread_sensitive=False, executor=self.executor)(self, body)


class PooledWsgiToAsgi(WsgiToAsgi):
    """An ASGI application (HTTP scopes only) that runs `wsgi_application` on `threads` reused threads."""

    def __init__(self, wsgi_application, *, threads: int):
        super().__init__(_closing(wsgi_application))
        self.executor = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="http")

    async def __call__(self, scope, receive, send):
        instance = _PooledInstance(self.wsgi_application, self.duplicate_header_limit, self.executor)
        await instance(scope, receive, send)
