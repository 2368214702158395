"""WebSocket /ws/arena/<id>/: the painting of one arena pair, for its voter only.

Authenticate in connect(), check the match is the user's before joining its group, send its current state,
then only forward the worker's events. Closes with 4401 for anonymous users and 4404 for a match that is not
the user's (the same answer as for one that does not exist), as the jobs' sockets do.
"""

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from generation.consumers import CLOSE_NOT_FOUND, CLOSE_UNAUTHENTICATED
from modelops.events import arena_group, arena_state_event
from modelops.selectors import arena_match_get


@database_sync_to_async
def _current_event(user, match_id: int) -> dict | None:
    match = arena_match_get(match_id=match_id, user=user)
    return None if match is None else arena_state_event(match)


class ArenaEventsConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None

    async def connect(self):
        user = self.scope.get("user")
        await self.accept()  # accept first so the close code reaches the client
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        match_id = self.scope["url_route"]["kwargs"]["match_id"]
        if await _current_event(user, match_id) is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        # join before reading the state, so no event can fall between the two
        self.group = arena_group(match_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json(await _current_event(user, match_id))

    async def disconnect(self, code):
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        pass  # read-only stream: votes go through the page's form

    async def arena_event(self, message):
        await self.send_json(message["event"])
