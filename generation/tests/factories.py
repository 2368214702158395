import factory
import numpy as np
from django.core.files.base import ContentFile
from PIL import Image

from generation.leases import lease_expiry
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
    # a running job is a worker's: it holds a live lease (pass an expired one for a job whose worker died)
    lease_owner = factory.LazyAttribute(
        lambda job: "factory-host:1:0" if job.status == GenerationJob.Status.RUNNING else ""
    )
    lease_expires_at = factory.LazyAttribute(
        lambda job: lease_expiry() if job.status == GenerationJob.Status.RUNNING else None
    )


class SucceededJobFactory(GenerationJobFactory):
    status = GenerationJob.Status.SUCCEEDED
    progress = 1.0


def _png(color=(200, 40, 40)) -> ContentFile:
    return ContentFile(png_bytes(Image.new("RGB", (64, 64), color)), name="factory.png")


def attention_sprite(words: list[str]) -> ContentFile:
    """Maps for `words` as the worker stores them: word i's map is a bright disc at a place of its own."""
    from ml_engine.attention import AttentionMaps

    ys, xs = np.mgrid[0:64, 0:64]
    maps = []
    for i in range(len(words)):
        cx, cy = 12 + (i * 20) % 44, 12 + (i * 20 // 44) * 20 % 44
        maps.append(np.clip(1 - np.hypot(xs - cx, ys - cy) / 24, 0, 1))
    sprite = AttentionMaps(list(words), np.stack(maps).astype(np.float32)).to_sprite()
    return ContentFile(png_bytes(sprite), name="factory-attention.png")


class GeneratedImageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = GeneratedImage

    class Params:
        # the maps a model with attention (the Shapes diffusion model, the GAN) leaves with the image
        with_attention = factory.Trait(
            attention_words=factory.LazyAttribute(lambda image: image.prompt.text_content.split()),
            attention_maps=factory.LazyAttribute(lambda image: attention_sprite(image.prompt.text_content.split())),
        )

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
