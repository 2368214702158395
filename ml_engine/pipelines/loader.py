"""Resolve a model name or folder and load its pipeline behind the common interface.

- A bundled name (`diffusion`, `gan`, ...) is a folder under ml_engine/weights/.
- A folder saved by ShapesDiffusionPipeline or ShapesGANPipeline loads as one.
- A Stable Diffusion folder (StableDiffusionPipeline or StableDiffusionXLPipeline: SD 1.x/2.x, SD-Turbo, SDXL,
  ...) loads with `DiffusionPipeline.from_pretrained(folder, local_files_only=True)` and is wrapped by
  `DiffusersTextToImage`, so the rest of the product calls every model the same way. Any other pipeline class
  is refused before anything loads.
Only safetensors weights are accepted: nothing is unpickled.
"""

from __future__ import annotations

import inspect
import json
import os
from pathlib import Path

import torch

from ml_engine.precision import architecture_key, check_precision

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT_MODEL = "diffusion"


def bundled_models() -> list[str]:
    if not WEIGHTS_DIR.is_dir():
        return []
    return sorted(p.name for p in WEIGHTS_DIR.iterdir() if (p / "model_index.json").is_file())


def resolve_model(name_or_path: str | os.PathLike | None) -> Path:
    name = str(name_or_path or DEFAULT_MODEL)
    if (WEIGHTS_DIR / name / "model_index.json").is_file():
        return WEIGHTS_DIR / name
    path = Path(name).expanduser()
    if (path / "model_index.json").is_file():
        return path
    known = ", ".join(bundled_models()) or "none"
    raise FileNotFoundError(f"no model {name!r}: not a bundled name ({known}) nor a folder with model_index.json")


SHAPES_CLASSES = ("ShapesDiffusionPipeline", "ShapesGANPipeline")


def text_to_image_class(folder: Path, index: dict | None = None) -> str:
    """The folder's pipeline class (model_index.json's `_class_name`), if it is a text-to-image pipeline the studio
    runs; a clear ValueError otherwise (an image-to-image, inpainting or video pipeline, or a kind it cannot drive)."""
    from ml_engine.pipelines.diffusers_adapter import PIPELINE_CLASSES

    if index is None:
        with open(folder / "model_index.json") as f:
            index = json.load(f)
    class_name = index.get("_class_name") if isinstance(index, dict) else None
    runs = (*SHAPES_CLASSES, *PIPELINE_CLASSES)
    if class_name not in runs:
        raise ValueError(f"{folder}: {class_name} is not a text-to-image pipeline the studio runs ({', '.join(runs)})")
    return class_name


def pickle_files(folder: Path) -> list[Path]:
    """Files in pickle formats under `folder` (loading one may run any code it carries)."""
    return sorted(p for p in Path(folder).rglob("*") if p.suffix in {".bin", ".pt", ".pth", ".ckpt", ".pkl"})


def _refuse_pickles(folder: Path) -> None:
    pickles = pickle_files(folder)
    if pickles:
        raise ValueError(f"refusing to load pickle-format weights: {', '.join(str(p) for p in pickles[:3])}")


def _refuse_unknown_components(folder: Path, index: dict, pipeline_class: type) -> None:
    """diffusers drops a saved component that the pipeline does not take, with a warning; the model would then draw
    without it. Settings it does not take (0 or null, as an older version saved them) are only warned about."""
    takes = inspect.signature(pipeline_class.__init__).parameters
    unknown = [
        name
        for name, value in index.items()
        if name not in takes and isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)
    ]
    if unknown:
        raise ValueError(f"{folder}: {pipeline_class.__name__} has no component {', '.join(unknown)}")


def load_pipeline(
    name_or_path: str | os.PathLike | None = None,
    device: str = "cpu",
    dtype: torch.dtype | None = None,
    precision: str = "auto",
):
    """A model folder (or a bundled model's name) as a pipeline on `device`; a Shapes model's bfloat16 path runs
    when `precision` says so, or with "auto" when it is the faster here (ml_engine.precision measures once)."""
    check_precision(precision)
    folder = resolve_model(name_or_path)
    _refuse_pickles(folder)
    with open(folder / "model_index.json") as f:
        index = json.load(f)
    class_name = text_to_image_class(folder, index)
    if class_name in SHAPES_CLASSES:
        if class_name == "ShapesDiffusionPipeline":
            from ml_engine.pipelines.shapes import ShapesDiffusionPipeline as pipeline_class
        else:
            from ml_engine.pipelines.gan import ShapesGANPipeline as pipeline_class
        _refuse_unknown_components(folder, index, pipeline_class)
        pipe = pipeline_class.from_pretrained(folder, use_safetensors=True)
        pipe.model_name = folder.name
        pipe = pipe.to(device)
        pipe.precision_set(precision, model_key=architecture_key(folder))
        return pipe
    from ml_engine.pipelines.diffusers_adapter import DiffusersTextToImage

    return DiffusersTextToImage.from_folder(folder, device=device, dtype=dtype)
