"""Register a model folder of your own (a Stable Diffusion folder saved with safetensors) as a model version."""

from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from modelops.services import model_version_register_folder


class Command(BaseCommand):
    help = (
        "Put FOLDER into the model registry as a new version (no alias) named NAME; --steps/--guidance set the "
        "defaults a request gets (SD-Turbo: --steps 1 --guidance 0). Promote it from the model page or the API."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", help="a diffusers text-to-image folder (model_index.json, safetensors)")
        parser.add_argument("--name", required=True, help="the version's name, as requests and pages call it")
        parser.add_argument("--steps", type=int, help="default sampler steps (written to the folder's studio.json)")
        parser.add_argument("--guidance", type=float, help="default guidance scale (written to studio.json)")

    def handle(self, *args, folder: str, name: str, steps: int | None, guidance: float | None, **options):
        try:
            version = model_version_register_folder(
                folder=str(Path(folder).expanduser().resolve()),
                version_name=name,
                default_steps=steps,
                default_guidance=guidance,
            )
        except ValidationError as error:
            reasons = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in error.message_dict.items())
            raise CommandError(reasons) from error
        self.stdout.write(f"registered {version.version_name} as {version.source} (no alias)")
        self.stdout.write(f"  sizes (width x height): {version.sizes_label}")
        self.stdout.write(
            f"  samplers: {', '.join(version.samplers) or 'none (one pass)'}; default {version.sampler_name}"
        )
        self.stdout.write(f"  defaults: {version.default_steps} steps, guidance {version.default_guidance:g}")
        self.stdout.write(f"  registry: {version.registry_name} v{version.registry_version}")
        self.stdout.write(f"  sha256: {version.artifact_sha256}")
