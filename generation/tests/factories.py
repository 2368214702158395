import factory
from django.core.files.base import ContentFile
from PIL import Image

from generation.models import GeneratedImage, GenerationJob, Visibility
from generation.pngs import png_bytes
from prompts.tests.factories import TextPromptFactory


class GenerationJobFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GenerationJob

    prompt = factory.SubFactory(TextPromptFactory, user=factory.SelfAttribute("..user"))
    user = factory.SubFactory("accounts.tests.factories.UserFactory")
    model_version = factory.SelfAttribute("prompt.model_version")
    total_steps = factory.LazyAttribute(lambda job: job.prompt.steps * job.prompt.num_images)
    status = GenerationJob.Status.QUEUED


class SucceededJobFactory(GenerationJobFactory):
    status = GenerationJob.Status.SUCCEEDED
    progress = 1.0


def _png(color=(200, 40, 40)) -> ContentFile:
    return ContentFile(png_bytes(Image.new("RGB", (64, 64), color)), name="factory.png")


class GeneratedImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GeneratedImage

    job = factory.SubFactory(SucceededJobFactory, user=factory.SelfAttribute("..user"))
    user = factory.SubFactory("accounts.tests.factories.UserFactory")
    prompt = factory.SelfAttribute("job.prompt")
    model_version = factory.SelfAttribute("job.model_version")
    file = factory.LazyFunction(_png)
    seed = factory.SelfAttribute("prompt.seed")
    width = 64
    height = 64
    visibility = Visibility.PRIVATE


class PublicImageFactory(GeneratedImageFactory):
    visibility = Visibility.PUBLIC
