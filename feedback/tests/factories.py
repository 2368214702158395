import factory

from feedback.models import Feedback
from generation.tests.factories import PublicImageFactory


class FeedbackFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Feedback

    image = factory.SubFactory(PublicImageFactory)
    user = factory.SubFactory("accounts.tests.factories.UserFactory")
    rating = 4
    comment = ""
