import factory

from ml_engine.data.vocabulary import shapes_vocabulary
from modelops.models import ModelVersion


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A version row without loading any weights; source "diffusion" resolves to the tiny test model."""

    class Meta:
        model = ModelVersion
        django_get_or_create = ("version_name",)

    version_name = "diffusion"
    source = "diffusion"
    supported_sizes = [[64, 64]]
    default_steps = 5
    default_guidance = 4.0
    sampler_name = "DPM++ 2M"
    samplers = ["DPM++ 2M", "UniPC", "Euler a", "Euler", "DDIM"]  # the tiny Shapes pipeline runs them all
    vocabulary = factory.LazyFunction(shapes_vocabulary)  # a Shapes model: it read the Shapes captions only
    is_current = True
