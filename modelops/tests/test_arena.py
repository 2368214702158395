"""The blind A/B arena: random sides, votes recorded per user, win rate with a Wilson interval on the staff page."""

import pytest

from modelops.models import ArenaMatch
from modelops.selectors import arena_results, wilson_interval
from modelops.services import arena_match_create, arena_match_render


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
    wait(lambda: ArenaMatch.objects.get(pk=match.pk).status == ArenaMatch.Status.READY, timeout=60)

    page = client_as(alice).get("/arena/").content.decode()
    assert 'data-status="ready"' in page and f"/arena/{match.pk}/a.png" in page
