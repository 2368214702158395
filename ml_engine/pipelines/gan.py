"""ShapesGANPipeline: the text-conditional GAN behind the same interface as the diffusion pipeline.

Components: `generator` (GANGenerator: DF-GAN fusion blocks with AttnGAN word attention, painting
8x8x16 normalised latents) and `autoencoder` (the frozen ShapesAutoencoder that decodes them to
64x64 pixels). One forward pass makes an image, so `num_inference_steps` and `guidance_scale` are
accepted for the common interface and ignored, and the step callback fires once.

    pipe = ShapesGANPipeline.from_pretrained("ml_engine/weights/gan")
    result = pipe("two red circles", seed=0, return_attention=True)
    result.images[0], result.attention[0].words  # the image, and what each word attended to
"""

from __future__ import annotations

import torch
from diffusers import DiffusionPipeline

from ml_engine.attention.maps import prompt_word_maps
from ml_engine.images import to_pil
from ml_engine.models.autoencoder import ShapesAutoencoder
from ml_engine.models.gan import GANGenerator
from ml_engine.pipelines.base import (
    GenerationResult,
    StepCallback,
    StepInfo,
    check_generation_args,
    image_seeds,
    prompt_list,
)
from ml_engine.text.encoder import TextEncoder

IMAGE_SIZE = 64


class ShapesGANPipeline(DiffusionPipeline):
    supported_sizes = ((IMAGE_SIZE, IMAGE_SIZE),)
    default_steps = 1
    default_guidance = 1.0
    sampler_name = "GAN (one pass)"

    def __init__(
        self,
        generator: GANGenerator,
        autoencoder: ShapesAutoencoder,
        text_encoder: TextEncoder | None = None,
        bf16_decode: bool = False,
    ):
        super().__init__()
        self.register_modules(generator=generator, autoencoder=autoencoder)
        # the decoder is most of a batch's cost (64x64 convolutions; the generator works on 8x8 latents) and runs
        # about twice as fast under bfloat16 autocast; saved in model_index.json once its pixels are checked
        self.register_to_config(bf16_decode=bool(bf16_decode))
        self.text = text_encoder or TextEncoder.load()  # not a registered module: never saved with the model

    @property
    def bf16_decode(self) -> bool:
        return bool(self.config.get("bf16_decode", False))

    def noise(self, seeds: list[int]) -> torch.Tensor:
        """One noise vector per seed, drawn on the CPU so a seed gives the same image on any device."""
        dim = self.generator.config.noise_dim
        return torch.stack([torch.randn(dim, generator=torch.Generator("cpu").manual_seed(s)) for s in seeds])

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
    ) -> GenerationResult:
        prompts = prompt_list(prompt, height, width, self.supported_sizes)
        check_generation_args(num_inference_steps, guidance_scale, num_images_per_prompt)
        if negative_prompt:
            raise ValueError("the GAN has no negative prompt (it does not use classifier-free guidance)")

        expanded = [p for p in prompts for _ in range(num_images_per_prompt)]
        seeds = image_seeds(generator, seed, len(expanded))
        if len(seeds) != len(expanded):
            raise ValueError(f"got {len(seeds)} generators for {len(expanded)} images")
        states, mask = self.text(expanded)
        noise = self.noise(seeds).to(self.device, self.generator.dtype)
        latents, weights = self.generator(
            noise, states.to(self.device, self.generator.dtype), mask.to(self.device), return_attention=True
        )
        with torch.autocast(self.device.type, torch.bfloat16, enabled=self.bf16_decode):
            images = self.autoencoder.decode_normalized(latents).float()
        if callback_on_step_end is not None:
            callback_on_step_end(StepInfo(1, 1, 0, lambda: to_pil(images[:1])[0]))
        attention = None
        if return_attention:  # word attention of every layer, summed: [B, H*W, T] -> [B, T, H, W]
            side = int(weights[0].shape[1] ** 0.5)
            piece_maps = sum(w.float() for w in weights).transpose(1, 2).reshape(len(expanded), -1, side, side)
            attention = prompt_word_maps(self.text.tokenizer, expanded, piece_maps, self.text.max_tokens, IMAGE_SIZE)
        if output_type == "pt":
            return GenerationResult(images, seeds, expanded, attention)  # type: ignore[arg-type]
        return GenerationResult(to_pil(images), seeds, expanded, attention)
