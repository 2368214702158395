"""A channel layer on one SQLite file, for the embedded mode: cross-process, and needs no server.

The Celery worker runs in its own process, and Channels' InMemoryChannelLayer cannot carry its
progress events to the daphne process that holds the browsers' WebSockets. This layer stores
messages and group memberships in a SQLite file (WAL mode) that both processes open. A `receive` that finds
its channel empty waits for the file to change: it reads SQLite's `PRAGMA data_version` (which moves when
another connection commits; a read that takes no lock) every `watch_interval` (5 ms), wakes at once for a send
in this process, and looks again after `poll_interval` (0.5 s) whatever it saw. So an event from the worker
reaches the browser within a few milliseconds, and an idle page costs a lock-free read now and then.
With REDIS_URL set the project uses channels-redis instead; this layer is for one machine.

    CHANNEL_LAYERS = {"default": {"BACKEND": "t2i_site.channel_layers.SQLiteChannelLayer",
                                  "CONFIG": {"path": "var/channels.sqlite3"}}}
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from channels.exceptions import ChannelFull
from channels.layers import BaseChannelLayer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    body TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_channel ON messages (channel, id);
CREATE TABLE IF NOT EXISTS groups (
    grp TEXT NOT NULL,
    channel TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (grp, channel)
);
"""


class SQLiteChannelLayer(BaseChannelLayer):
    extensions = ["groups", "flush"]

    def __init__(
        self,
        path: str,
        expiry: int = 60,
        group_expiry: int = 86400,
        capacity: int = 100,
        poll_interval: float = 0.5,
        channel_capacity=None,
        watch_interval: float = 0.005,
    ):
        super().__init__(expiry=expiry, capacity=capacity, channel_capacity=channel_capacity)
        self.path = str(path)
        self.group_expiry = group_expiry
        self.poll_interval = poll_interval
        self.watch_interval = min(watch_interval, poll_interval)
        self._sends = 0  # sends made through this instance: data_version does not see a connection's own commits
        self._local = threading.local()
        self._prefix = f"specific.{uuid.uuid4().hex[:12]}!"
        # one thread owns the SQLite connection: no new thread or connection per call, whatever the event loop
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-channel-layer")

    async def _run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(function, *args))

    # one connection per thread: sqlite3 connections must not cross threads
    def _db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.executescript(_SCHEMA)
            self._local.conn = conn
        return conn

    def _send_sync(self, channels: list[str], message: dict) -> None:
        body = json.dumps(message)
        now = time.time()
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM messages WHERE expires < ?", (now,))
            for channel in channels:
                (queued,) = db.execute("SELECT COUNT(*) FROM messages WHERE channel = ?", (channel,)).fetchone()
                if queued >= self.get_capacity(channel):
                    if len(channels) == 1:
                        raise ChannelFull(channel)
                    continue  # group sends drop silently for a full member, as channels-redis does
                db.execute(
                    "INSERT INTO messages (channel, body, expires) VALUES (?, ?, ?)", (channel, body, now + self.expiry)
                )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _data_version(self) -> int:
        return self._db().execute("PRAGMA data_version").fetchone()[0]

    def _pop_sync(self, channel: str) -> tuple[dict | None, int]:
        """The channel's next message, if any, and the file's data_version as this look saw it."""
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            row = db.execute(
                "SELECT id, body FROM messages WHERE channel = ? AND expires >= ? ORDER BY id LIMIT 1",
                (channel, time.time()),
            ).fetchone()
            if row:
                db.execute("DELETE FROM messages WHERE id = ?", (row[0],))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return (json.loads(row[1]) if row else None), self._data_version()

    async def send(self, channel: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_channel_name(channel)
        await self._run(self._send_sync, [channel], message)
        self._sends += 1

    async def receive(self, channel: str) -> dict:
        self.require_valid_channel_name(channel)
        while True:
            message, version = await self._run(self._pop_sync, channel)
            if message is not None:
                return message
            await self._changed_since(version)

    async def _changed_since(self, version: int) -> None:
        """Returns once another process committed to the file, this instance sent, or `poll_interval` passed."""
        loop = asyncio.get_running_loop()
        deadline, sends = loop.time() + self.poll_interval, self._sends
        while loop.time() < deadline:
            await asyncio.sleep(self.watch_interval)
            if self._sends != sends or await self._run(self._data_version) != version:
                return

    async def new_channel(self, prefix: str = "specific.") -> str:
        return f"{self._prefix}{prefix}{uuid.uuid4().hex}"

    async def flush(self) -> None:
        def _flush():
            self._db().executescript("DELETE FROM messages; DELETE FROM groups;")

        await self._run(_flush)

    async def group_add(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)

        def _add():
            self._db().execute(
                "INSERT OR REPLACE INTO groups (grp, channel, expires) VALUES (?, ?, ?)",
                (group, channel, time.time() + self.group_expiry),
            )

        await self._run(_add)

    async def group_discard(self, group: str, channel: str) -> None:
        self.require_valid_group_name(group)
        self.require_valid_channel_name(channel)

        def _discard():
            self._db().execute("DELETE FROM groups WHERE grp = ? AND channel = ?", (group, channel))

        await self._run(_discard)

    async def group_send(self, group: str, message: dict) -> None:
        assert isinstance(message, dict), "message is not a dict"
        self.require_valid_group_name(group)
        await self._run(self.groups_send_blocking, [group], message)

    def groups_send_blocking(self, groups: list[str], message: dict) -> None:
        """group_send to each of `groups`, in one transaction, from synchronous code (the worker's step callback):
        no event loop to start for each event."""
        db = self._db()
        db.execute("DELETE FROM groups WHERE expires < ?", (time.time(),))
        marks = ", ".join("?" * len(groups))
        members = [row[0] for row in db.execute(f"SELECT DISTINCT channel FROM groups WHERE grp IN ({marks})", groups)]
        if members:
            self._send_sync(members, message)
        self._sends += 1
