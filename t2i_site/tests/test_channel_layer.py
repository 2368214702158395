"""The embedded SQLite channel layer carries messages between two layer instances (as between processes)."""

import asyncio

import pytest
from channels.exceptions import ChannelFull

from t2i_site.channel_layers import SQLiteChannelLayer

pytestmark = pytest.mark.asyncio


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "channels.sqlite3")


async def test_group_send_from_one_instance_reaches_members_joined_through_another(path):
    web, worker = SQLiteChannelLayer(path, poll_interval=0.01), SQLiteChannelLayer(path, poll_interval=0.01)
    first, second = await web.new_channel(), await web.new_channel()
    await web.group_add("job-1", first)
    await web.group_add("job-1", second)

    await worker.group_send("job-1", {"type": "job.event", "event": {"step": 1}})

    for channel in (first, second):
        assert await asyncio.wait_for(web.receive(channel), 2) == {"type": "job.event", "event": {"step": 1}}


async def test_messages_arrive_in_order_and_discarded_members_get_nothing(path):
    layer = SQLiteChannelLayer(path, poll_interval=0.01)
    channel = await layer.new_channel()
    await layer.group_add("g", channel)
    for step in range(3):
        await layer.group_send("g", {"type": "x", "step": step})
    assert [(await layer.receive(channel))["step"] for _ in range(3)] == [0, 1, 2]

    await layer.group_discard("g", channel)
    await layer.group_send("g", {"type": "x", "step": 99})
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.2)


async def test_expired_messages_are_not_delivered(path):
    layer = SQLiteChannelLayer(path, expiry=0, poll_interval=0.01)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "x"})
    await asyncio.sleep(0.05)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.2)


async def test_a_full_channel_refuses_direct_sends(path):
    layer = SQLiteChannelLayer(path, capacity=2)
    channel = await layer.new_channel()
    await layer.send(channel, {"type": "x"})
    await layer.send(channel, {"type": "x"})
    with pytest.raises(ChannelFull):
        await layer.send(channel, {"type": "x"})


@pytest.mark.parametrize("sender", ["another process", "this process"])
async def test_a_waiting_receive_wakes_on_a_send_not_at_its_next_poll(path, sender):
    web = SQLiteChannelLayer(path, poll_interval=5.0)  # a poll would come only after 5 s
    worker = SQLiteChannelLayer(path) if sender == "another process" else web
    channel = await web.new_channel()
    await web.group_add("job-1", channel)
    waiting = asyncio.ensure_future(web.receive(channel))
    await asyncio.sleep(0.1)  # the receive found nothing and waits

    loop = asyncio.get_running_loop()
    sent = loop.time()
    await worker.group_send("job-1", {"type": "job.event", "event": {"step": 1}})
    assert await asyncio.wait_for(waiting, 2) == {"type": "job.event", "event": {"step": 1}}
    assert loop.time() - sent < 0.5
