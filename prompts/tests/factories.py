import factory

from accounts.tests.factories import UserFactory
from modelops.tests.factories import ModelVersionFactory
from prompts.models import TextPrompt


class TextPromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TextPrompt

    user = factory.SubFactory(UserFactory)
    text_content = factory.Sequence(lambda n: f"a red circle number {n}")
    negative_prompt = ""
    seed = factory.Sequence(lambda n: 1000 + n)
    steps = 5
    guidance = 4.0
    width = 64
    height = 64
    num_images = 1
    model_version = factory.SubFactory(ModelVersionFactory)
