"""ShapesGANPipeline: the text-conditional GAN behind the same interface as the diffusion pipeline.

Components: `generator` (GANGenerator: DF-GAN fusion blocks with AttnGAN word attention, painting
8x8x16 normalised latents) and `autoencoder` (the frozen ShapesAutoencoder that decodes them to
64x64 pixels). One forward pass makes an image, so `num_inference_steps` and `guidance_scale` are
accepted for the common interface and ignored, and the step callback fires once.

Ranked sampling: with a `discriminator` (the matching-aware one the GAN was trained against) and
`candidates` k > 1, the generator draws k latents for each image and keeps the one the discriminator
judges most real and most true to the image's own caption: a GAN's discriminator put to work at
sampling time, as discriminator rejection sampling (Azadi et al., 2019) does for realism and DALL-E's
reranking (Ramesh et al., 2021) does with CLIP for alignment. The first candidate is the image that
k = 1 gives for the same seed; the others come from seeds derived from it.

    pipe = ShapesGANPipeline.from_pretrained("ml_engine/weights/gan")
    result = pipe("two red circles", seed=0, return_attention=True)
    result.images[0], result.attention[0].words  # the image, and what each word attended to
"""

from __future__ import annotations

import torch
from diffusers import DiffusionPipeline

from ml_engine.attention.maps import prompt_word_maps
from ml_engine.data.vocabulary import shapes_vocabulary
from ml_engine.images import to_pil
from ml_engine.models.autoencoder import ShapesAutoencoder
from ml_engine.models.gan import GANDiscriminator, GANGenerator
from ml_engine.pipelines.base import (
    GenerationResult,
    PrecisionMixin,
    StepCallback,
    StepInfo,
    candidate_seed,
    check_generation_args,
    image_seeds,
    prompt_list,
)
from ml_engine.precision import bf16_autocast
from ml_engine.text.encoder import TextEncoder

IMAGE_SIZE = 64


class ShapesGANPipeline(PrecisionMixin, DiffusionPipeline):
    supported_sizes = ((IMAGE_SIZE, IMAGE_SIZE),)
    default_steps = 1
    default_guidance = 1.0
    _optional_components = ["discriminator"]

    def __init__(
        self,
        generator: GANGenerator,
        autoencoder: ShapesAutoencoder,
        discriminator: GANDiscriminator | None = None,
        text_encoder: TextEncoder | None = None,
        bf16_decode: bool = False,
        candidates: int = 1,
    ):
        super().__init__()
        if candidates > 1 and discriminator is None:
            raise ValueError("ranking several candidates needs the discriminator")
        self.register_modules(generator=generator, autoencoder=autoencoder, discriminator=discriminator)
        # the decoder is most of a batch's cost (64x64 convolutions; the generator works on 8x8 latents) and runs
        # about twice as fast under bfloat16 autocast; saved in model_index.json once its pixels are checked
        self.register_to_config(bf16_decode=bool(bf16_decode), candidates=int(candidates))
        self.text = text_encoder or TextEncoder.load()  # not a registered module: never saved with the model

    @property
    def bf16_decode(self) -> bool:
        return bool(self.config.get("bf16_decode", False))

    @property
    def has_bfloat16_path(self) -> bool:
        return self.bf16_decode

    @property
    def candidates(self) -> int:
        """Generator draws per image (the default for a call), ranked by the discriminator."""
        return int(self.config.get("candidates", 1))

    samplers: tuple[str, ...] = ()  # one generator pass: there is no sampler to choose

    @property
    def vocabulary(self) -> dict[str, list[str]]:
        """The words its training captions use, grouped (ml_engine/data/vocabulary.py)."""
        return shapes_vocabulary()

    @property
    def sampler_name(self) -> str:
        k = self.candidates
        return "GAN (one pass)" if k == 1 else f"GAN (best of {k}, ranked by its discriminator)"

    def noise(self, seeds: list[int]) -> torch.Tensor:
        """One noise vector per seed, drawn on the CPU so a seed gives the same image on any device."""
        dim = self.generator.config.noise_dim
        return torch.stack([torch.randn(dim, generator=torch.Generator("cpu").manual_seed(s)) for s in seeds])

    def ranked_latents(
        self, seeds: list[int], states: torch.Tensor, mask: torch.Tensor, candidates: int
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Latents and word attention of each image's best candidate, as the discriminator ranks them."""
        n = len(seeds)
        noise = torch.cat([self.noise([candidate_seed(s, j) for s in seeds]) for j in range(candidates)])
        states, mask = states.repeat(candidates, 1, 1), mask.repeat(candidates, 1)  # candidate-major rows
        latents, weights = self.generator(noise.to(self.device, states.dtype), states, mask, return_attention=True)
        if candidates == 1:
            return latents, weights
        scores = self.discriminator.score(latents, states, mask).view(candidates, n)
        rows = scores.argmax(dim=0) * n + torch.arange(n, device=scores.device)
        return latents[rows], [w[rows] for w in weights]

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int = default_steps,
        guidance_scale: float = default_guidance,
        generator: torch.Generator | list[torch.Generator] | None = None,
        seed: int | None = None,
        num_images_per_prompt: int = 1,
        callback_on_step_end: StepCallback | None = None,
        height: int = IMAGE_SIZE,
        width: int = IMAGE_SIZE,
        output_type: str = "pil",
        return_attention: bool = False,
        candidates: int | None = None,
        sampler: str | None = None,
    ) -> GenerationResult:
        prompts = prompt_list(prompt, height, width, self.supported_sizes)
        check_generation_args(num_inference_steps, guidance_scale, num_images_per_prompt)
        if sampler is not None:
            raise ValueError(f"the GAN draws in one pass: it has no sampler (got {sampler!r})")
        if negative_prompt:
            raise ValueError("the GAN has no negative prompt (it does not use classifier-free guidance)")
        candidates = self.candidates if candidates is None else candidates
        if candidates < 1 or (candidates > 1 and self.discriminator is None):
            raise ValueError(f"candidates must be 1, or more with a discriminator loaded; got {candidates}")

        expanded = [p for p in prompts for _ in range(num_images_per_prompt)]
        seeds = image_seeds(generator, seed, len(expanded))
        if len(seeds) != len(expanded):
            raise ValueError(f"got {len(seeds)} generators for {len(expanded)} images")
        states, mask = self.text(expanded)
        states, mask = states.to(self.device, self.generator.dtype), mask.to(self.device)
        latents, weights = self.ranked_latents(seeds, states, mask, candidates)
        with bf16_autocast(self.device, self.runs_bfloat16):
            images = self.autoencoder.decode_normalized(latents).float()
        if callback_on_step_end is not None:
            callback_on_step_end(StepInfo(1, 1, 0, lambda i: to_pil(images[i : i + 1])[0]))
        attention = None
        if return_attention:  # word attention of every layer, summed: [B, H*W, T] -> [B, T, H, W]
            side = int(weights[0].shape[1] ** 0.5)
            piece_maps = sum(w.float() for w in weights).transpose(1, 2).reshape(len(expanded), -1, side, side)
            attention = prompt_word_maps(self.text.tokenizer, expanded, piece_maps, self.text.max_tokens, IMAGE_SIZE)
        if output_type == "pt":
            return GenerationResult(images, seeds, expanded, attention)  # type: ignore[arg-type]
        return GenerationResult(to_pil(images), seeds, expanded, attention)
