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


class JobEventsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self):
        user = self.scope.get("user")
        await self.accept()  # accept first so the close code reaches the client
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        job_id = self.scope["url_route"]["kwargs"].get("job_id")
        if job_id is not None and await _current_events(user, job_id) is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # join before reading the state, so no event can fall between the two
        self.group = user_group(user.pk) if job_id is None else job_group(job_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        for event in await _current_events(user, job_id) or []:
            await self.send_json(event)

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # read-only stream: cancelling goes through the API

    async def job_event(self, message):
        await self.send_json(message["event"])
