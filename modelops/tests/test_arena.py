"""The blind A/B arena: random sides, prompts in plain English, the models named only after the vote, the pair's
progress streamed without naming them, votes recorded per user, win rate with a Wilson interval on the staff page."""

import random
import re

import pytest

from modelops.models import ArenaMatch
from modelops.selectors import arena_results, wilson_interval
from modelops.services import arena_match_create, arena_match_render
from modelops.services.arena import _arena_prompt, arena_prompt_text


def test_wilson_interval_matches_the_textbook_values():
    low, high = wilson_interval(8, 10)  # 8/10: [0.490, 0.943]
    assert (round(low, 3), round(high, 3)) == (0.49, 0.943)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def _ready_match(user) -> ArenaMatch:
    match = arena_match_create(user=user)
    return arena_match_render(match=match)


def test_arena_needs_a_challenger(champion, client_as, alice):
    page = client_as(alice).post("/arena/start/").content.decode()
    assert "needs a champion and a challenger" in page


def test_looking_at_the_arena_starts_no_work(champion, challenger_factory, client_as, alice):
    challenger_factory()
    page = client_as(alice).get("/arena/").content.decode()
    assert 'data-status="none"' in page and not ArenaMatch.objects.exists()


def test_a_match_shows_two_unlabelled_images_of_the_same_prompt_and_seed(
    champion, challenger_factory, client_as, alice
):
    challenger_factory()
    match = _ready_match(alice)

    page = client_as(alice).get("/arena/").content.decode()
    assert match.status == ArenaMatch.Status.READY and match.prompt in page
    assert "champion" not in page.lower().replace("champion and a challenger", "")  # the sides are never named
    for side in ("a", "b"):
        response = client_as(alice).get(f"/arena/{match.pk}/{side}.png")
        assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_votes_are_recorded_and_the_staff_page_shows_the_win_rate_with_its_interval(
    champion, challenger_factory, client_as, alice, bob, staff
):
    challenger = challenger_factory()
    votes = []
    for voter, picks in ((alice, "challenger"), (bob, "challenger"), (alice, "champion"), (bob, "tie")):
        match = _ready_match(voter)
        challenger_side = "right" if match.champion_on_left else "left"
        champion_side = "left" if match.champion_on_left else "right"
        choice = {"challenger": challenger_side, "champion": champion_side, "tie": "tie"}[picks]
        response = client_as(voter).post(f"/arena/{match.pk}/vote/", {"choice": choice})
        assert response.status_code == 302
        match.refresh_from_db()
        votes.append(match.winner)

    assert votes == ["challenger", "challenger", "champion", "tie"]
    (result,) = arena_results()
    assert (result.champion, result.challenger, result.votes) == (champion, challenger, 4)
    assert result.win_rate == pytest.approx(2.5 / 4)
    low, high = wilson_interval(2.5, 4)
    assert (round(low, 2), round(high, 2)) == (0.22, 0.91)
    page = client_as(staff).get("/modelops/").content.decode()
    assert "0.63 [0.22, 0.91]" in page  # win rate 2.5/4 and its 95% interval, as the template rounds them


def test_a_match_is_voted_once_and_only_by_its_voter(champion, challenger_factory, client_as, alice, bob):
    challenger_factory()
    match = _ready_match(alice)

    assert client_as(bob).post(f"/arena/{match.pk}/vote/", {"choice": "left"}).status_code == 404
    assert client_as(bob).get(f"/arena/{match.pk}/a.png").status_code == 404
    client_as(alice).post(f"/arena/{match.pk}/vote/", {"choice": "left"})
    client_as(alice).post(f"/arena/{match.pk}/vote/", {"choice": "right"})
    match.refresh_from_db()
    assert match.choice == "left"


@pytest.mark.django_db(transaction=True)
def test_the_arena_page_has_a_worker_render_both_images(worker, champion, challenger_factory, client_as, alice, wait):
    challenger_factory()

    started = client_as(alice).post("/arena/start/")  # creates the match; a worker renders it
    assert started.status_code == 302
    assert 'data-status="rendering"' in client_as(alice).get("/arena/").content.decode()
    client_as(alice).post("/arena/start/")  # a second start while one is open makes no second match
    match = ArenaMatch.objects.get(user=alice)
    state = wait(lambda: (s := client_as(alice).get(f"/arena/{match.pk}/state/").json())["type"] != "rendering" and s)
    assert state == {
        "type": "ready",
        "match": match.pk,
        "images": {"a": f"/arena/{match.pk}/a.png", "b": f"/arena/{match.pk}/b.png"},
    }

    page = client_as(alice).get("/arena/").content.decode()
    assert 'data-status="ready"' in page and f"/arena/{match.pk}/a.png" in page


def test_arena_prompts_say_an_before_a_vowel():
    from ml_engine.data.captions import Item, Requirement, canonical_text

    assert arena_prompt_text("a orange square to the left of a circle") == "an orange square to the left of a circle"
    assert arena_prompt_text("a large orange cross") == "a large orange cross"
    # the training captions keep "a orange": the shipped models learnt from them, so only the arena rephrases
    assert canonical_text(Requirement("colors", (Item("square", "orange"),))) == "a orange square"
    drawn = [_arena_prompt(random.Random(seed)) for seed in range(300)]
    assert not [text for text in drawn if re.search(r"\ba [aeiou]", text)]
    assert any(re.search(r"\ban [aeiou]", text) for text in drawn)  # the draw does reach the vowel colours


def _main(page) -> str:
    """The page's own content (the navigation may name models elsewhere)."""
    return page.content.decode().split("<main", 1)[1].split("</main>", 1)[0]


def test_the_pair_is_judged_blind_and_the_vote_reveals_which_model_painted_which(
    champion, challenger_factory, client_as, alice
):
    challenger = challenger_factory(name="contender")
    match = _ready_match(alice)
    left, right = (champion, challenger) if match.champion_on_left else (challenger, champion)

    before = _main(client_as(alice).get("/arena/"))
    state = client_as(alice).get(f"/arena/{match.pk}/state/").json()
    for name in (champion.version_name, challenger.version_name, "champion", "challenger"):
        assert name not in before and name not in str(state)
    assert client_as(alice).get(f"/arena/{match.pk}/")["Location"] == "/arena/"  # no peeking before the vote

    voted = client_as(alice).post(f"/arena/{match.pk}/vote/", {"choice": "right"})
    assert voted.status_code == 302 and voted["Location"] == f"/arena/{match.pk}/"
    after = _main(client_as(alice).get(voted["Location"]))
    model_a = re.search(r'id="model-a">(.*?)</p>', after, re.S).group(1)
    model_b = re.search(r'id="model-b">(.*?)</p>', after, re.S).group(1)
    assert left.version_name in model_a and right.version_name in model_b
    assert ("champion" in model_a) == match.champion_on_left and ("champion" in model_b) != match.champion_on_left
    assert f"You picked image B, painted by <strong>{right.version_name}</strong>" in after


def test_painting_streams_the_pairs_progress_without_naming_the_models(
    champion, challenger_factory, alice, monkeypatch
):
    from modelops.services import arena as arena_service

    challenger = challenger_factory(name="contender")
    events = []
    monkeypatch.setattr(arena_service, "arena_event_publish", lambda *, match, event: events.append(event))
    match = _ready_match(alice)

    progress = [event for event in events if event["type"] == "progress"]
    assert progress[0]["percent"] == 0 and progress[-1]["percent"] == 100
    percents = [event["percent"] for event in progress]
    assert percents == sorted(percents) and len(set(percents)) > 2  # it moves, in order, through the pair
    sides = [event["side"] for event in progress]
    assert sides == sorted(sides) and set(sides) == {"a", "b"}  # the left image first, whichever model it is
    assert events[-1] == {
        "type": "ready",
        "match": match.pk,
        "images": {"a": f"/arena/{match.pk}/a.png", "b": f"/arena/{match.pk}/b.png"},
    }
    for name in (champion.version_name, challenger.version_name, "champion", "challenger"):
        assert name not in str(events)


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_voters_socket_sends_the_state_then_the_workers_events(
    champion, challenger_factory, client_as, alice
):
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from modelops.events import arena_event_publish, arena_progress_event
    from t2i_site.asgi import application

    def unpainted_match():  # no render task queued: only this test's event reaches the socket
        challenger = challenger_factory()
        return ArenaMatch.objects.create(
            user=alice, champion=champion, challenger=challenger, prompt="a circle", seed=1, champion_on_left=True
        )

    match = await database_sync_to_async(unpainted_match)()
    session = await database_sync_to_async(lambda: client_as(alice).cookies["sessionid"].value)()
    headers = [(b"cookie", f"sessionid={session}".encode()), (b"origin", b"http://localhost")]
    communicator = WebsocketCommunicator(application, f"/ws/arena/{match.pk}/", headers=headers)
    assert (await communicator.connect(timeout=5))[0]
    assert await communicator.receive_json_from(timeout=5) == {"type": "rendering", "match": match.pk}

    event = arena_progress_event(match, side="a", percent=25.0, eta_s=1.5)
    await database_sync_to_async(lambda: arena_event_publish(match=match, event=event))()
    assert await communicator.receive_json_from(timeout=5) == event
    await communicator.disconnect()
