"""One rating per user and image; averages across users."""

import pytest
from django.core.exceptions import ValidationError

from feedback.selectors import feedback_summary
from feedback.services import feedback_submit
from generation.tests.factories import PublicImageFactory


def test_a_second_rating_replaces_the_first(alice, model_version):
    image = PublicImageFactory()
    feedback_submit(user=alice, image=image, rating=2, comment="meh")
    feedback_submit(user=alice, image=image, rating=5, comment="grew on me")
    assert feedback_summary(image=image) == {"average": 5.0, "count": 1}


def test_average_across_users(alice, bob, model_version):
    image = PublicImageFactory()
    feedback_submit(user=alice, image=image, rating=5)
    feedback_submit(user=bob, image=image, rating=2)
    assert feedback_summary(image=image) == {"average": 3.5, "count": 2}


@pytest.mark.parametrize("rating", [0, 6, 3.5])
def test_ratings_outside_one_to_five_are_refused(alice, model_version, rating):
    with pytest.raises(ValidationError) as error:
        feedback_submit(user=alice, image=PublicImageFactory(), rating=rating)
    assert "rating" in error.value.message_dict


def test_api_returns_the_new_average_and_names_a_bad_rating(api_as, alice, bob, model_version):
    image = PublicImageFactory(user=alice)
    api_as(bob).post(f"/api/images/{image.pk}/feedback/", {"rating": 1}, format="json")
    response = api_as(alice).post(f"/api/images/{image.pk}/feedback/", {"rating": 4, "comment": "ok"}, format="json")
    assert response.status_code == 201 and response.data["rating_average"] == 2.5 and response.data["rating_count"] == 2
    bad = api_as(alice).post(f"/api/images/{image.pk}/feedback/", {"rating": 9}, format="json")
    assert bad.status_code == 400 and "rating" in bad.data
    extra = api_as(alice).post(f"/api/images/{image.pk}/feedback/", {"rating": 3, "stars": 3}, format="json")
    assert extra.status_code == 400 and "stars" in extra.data


def test_image_page_shows_average_and_comments(client_as, alice, bob, model_version):
    image = PublicImageFactory(user=alice)
    feedback_submit(user=bob, image=image, rating=4, comment="lovely colours")
    client_as(alice).post(f"/images/{image.pk}/feedback/", {"rating": "2", "comment": ""})
    html = client_as(None).get(f"/images/{image.pk}/").content.decode()
    assert "3.0 / 5 from 2 ratings" in html and "lovely colours" in html
