"""WebSockets /ws/jobs/ (all of the user's jobs) and /ws/jobs/<id>/ (one job).

Authenticate in connect(), check ownership before joining a group, send the current state, then only
forward the worker's events. Closes with 4401 for anonymous users and 4404 for a job that is not the
user's (the same answer as for a job that does not exist).
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from generation.events import job_group, job_state_event, user_group
from generation.selectors import job_active_for_user, job_get_for_user

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


@database_sync_to_async
def _current_events(user, job_id: int | None) -> list[dict] | None:
    if job_id is None:
        return [job_state_event(job) for job in job_active_for_user(user=user)]
    job = job_get_for_user(user=user, job_id=job_id)
    return None if job is None else [job_state_event(job)]


class OwnedEventsConsumer(AsyncJsonWebsocketConsumer):
    """A read-only stream of one owner's events: accept, close 4401 for anonymous users and 4404 for what is not
    theirs (as for what does not exist), join the group, then send the current state and forward what follows.
    Subclasses name the group and the current events (`group_of`, `current_events`: None when not theirs)."""

    group: str | None = None

    def group_of(self, user) -> str:
        raise NotImplementedError

    async def current_events(self, user) -> list[dict] | None:
        raise NotImplementedError

    async def connect(self):
        user = self.scope.get("user")
        await self.accept()  # accept first so the close code reaches the client
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        if await self.current_events(user) is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # join before reading the state, so no event can fall between the two
        self.group = self.group_of(user)
        await self.channel_layer.group_add(self.group, self.channel_name)
        for event in await self.current_events(user) or []:
            await self.send_json(event)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # read-only streams: actions go through the API and the pages' forms

    async def forward(self, message):
        await self.send_json(message["event"])


class JobEventsConsumer(OwnedEventsConsumer):
    def _job_id(self) -> int | None:
        return self.scope["url_route"]["kwargs"].get("job_id")

    def group_of(self, user) -> str:
        job_id = self._job_id()
        return user_group(user.pk) if job_id is None else job_group(job_id)

    async def current_events(self, user) -> list[dict] | None:
        return await _current_events(user, self._job_id())

    async def job_event(self, message):
        await self.forward(message)
