"""WebSocket /ws/arena/<id>/: the painting of one arena pair, for its voter only.

Authenticate in connect(), check the match is the user's before joining its group, send its current state,
then only forward the worker's events. Closes with 4401 for anonymous users and 4404 for a match that is not
the user's (the same answer as for one that does not exist), as the jobs' sockets do.
"""

from channels.db import database_sync_to_async

from generation.consumers import OwnedEventsConsumer
from modelops.events import arena_group, arena_state_event
from modelops.selectors import arena_match_get


@database_sync_to_async
def _current_event(user, match_id: int) -> dict | None:
    match = arena_match_get(match_id=match_id, user=user)
    return None if match is None else arena_state_event(match)


class ArenaEventsConsumer(OwnedEventsConsumer):
    def _match_id(self) -> int:
        return self.scope["url_route"]["kwargs"]["match_id"]

    def group_of(self, user) -> str:
        return arena_group(self._match_id())

    async def current_events(self, user) -> list[dict] | None:
        event = await _current_event(user, self._match_id())
        return None if event is None else [event]

    async def arena_event(self, message):
        await self.forward(message)
