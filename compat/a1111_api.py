"""AUTOMATIC1111's web API under /sdapi/v1/, for `webuiapi`, the Krita and Photoshop plug-ins and scripts:

    POST txt2img      a job of the caller's, waited for: {"images": [base64 PNG], "parameters", "info": JSON text}
    GET  progress     the caller's current job: progress, eta_relative, state, current_image (base64 PNG)
    POST interrupt    cancels the caller's running job
    GET  sd-models, samplers, schedulers, scripts
    GET  options      the caller's checkpoint; POST {"sd_model_checkpoint"} sets it (for this caller only)
    POST png-info     {"image": base64 or data: URL} -> the infotext and its fields

Authentication is HTTP basic, as A1111's --api-auth (the password or an API key; compat/authentication.py), or an
API key as Bearer. Errors are A1111's {"error", "detail", "errors"} (compat/errors.py).
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import time

from django.core.exceptions import ValidationError as DjangoValidationError
from PIL import Image
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.authentication import ApiKeyAuthentication
from compat import services
from compat.a1111_payload import SCHEDULERS, read_txt2img
from compat.authentication import BasicCredentialsAuthentication
from compat.errors import JobNotFinished, a1111_exception_handler
from compat.infotext import image_bytes, image_parameters, parse_infotext
from compat.selectors import (
    checkpoint_title,
    client_checkpoint,
    job_current_for_user,
    job_image_files,
    job_wait_finished,
    served_models,
)
from generation import services as generation_services
from generation.fair_share import job_queue_position
from generation.models import GenerationJob
from generation.pngs import infotext

SAMPLER_ALIASES = {"Euler a": ["k_euler_a", "k_euler_ancestral"], "Euler": ["k_euler"], "DPM++ 2M": ["k_dpmpp_2m"]}


class A1111View(APIView):
    authentication_classes = [BasicCredentialsAuthentication, ApiKeyAuthentication]
    schema = None  # AUTOMATIC1111's own /docs describes this API; the studio's schema covers /api/ only

    def get_exception_handler(self):
        return a1111_exception_handler

    def get_authenticate_header(self, request):
        return 'Basic realm="studio"'


def _png_base64(png: bytes) -> str:
    return base64.b64encode(png).decode("ascii")


def _info(job: GenerationJob, seeds: list[int], echo: dict) -> str:
    """A1111's `info`: the settings as run, every image's seed and infotext (a JSON string, as A1111 sends it)."""
    prompt, version = job.prompt, job.model_version
    sampler = prompt.sampler or version.sampler_name
    texts = [
        infotext(
            prompt=prompt.text_content,
            negative_prompt=prompt.negative_prompt,
            steps=prompt.steps,
            sampler=sampler,
            guidance=prompt.guidance,
            seed=seed,
            width=prompt.width,
            height=prompt.height,
            model=version.version_name,
        )
        for seed in seeds
    ]
    n = prompt.num_images
    return json.dumps(
        {
            "prompt": prompt.text_content,
            "all_prompts": [prompt.text_content] * n,
            "negative_prompt": prompt.negative_prompt,
            "all_negative_prompts": [prompt.negative_prompt] * n,
            "seed": prompt.seed,
            "all_seeds": seeds,
            "subseed": -1,
            "all_subseeds": [-1] * n,
            "subseed_strength": 0,
            "width": prompt.width,
            "height": prompt.height,
            "sampler_name": sampler,
            "cfg_scale": prompt.guidance,
            "steps": prompt.steps,
            "batch_size": echo.get("batch_size", 1),
            "n_iter": echo.get("n_iter", 1),
            "restore_faces": False,
            "sd_model_name": version.version_name,
            "sd_model_hash": version.artifact_sha256[:10] or None,
            "seed_resize_from_w": -1,
            "seed_resize_from_h": -1,
            "denoising_strength": None,
            "extra_generation_params": {},
            "index_of_first_image": 0,
            "infotexts": texts,
            "styles": [],
            "job_timestamp": job.created_at.strftime("%Y%m%d%H%M%S"),
            "clip_skip": 1,
            "is_using_inpainting_conditioning": False,
            "job_id": job.pk,
            "image_ids": [image.pk for image in sorted(job.images.all(), key=lambda image: image.index)],
        }
    )


class Txt2ImgApi(A1111View):
    def post(self, request):
        wanted = read_txt2img(request.data, default_checkpoint=client_checkpoint(user=request.user))
        job = generation_services.generation_job_submit(user=request.user, **wanted.job)
        job = job_wait_finished(job_id=job.pk)
        if job.status == GenerationJob.Status.CANCELLED:  # interrupted: A1111 answers with what was made, none here
            images = []
        elif job.status != GenerationJob.Status.SUCCEEDED:
            raise JobNotFinished(job)
        else:
            images = [_png_base64(png) for png in job_image_files(job)] if wanted.send_images else []
        seeds = [wanted.seed + i for i in range(job.prompt.num_images)]
        return Response({"images": images, "parameters": wanted.echo, "info": _info(job, seeds, wanted.echo)})


def _preview_png(preview: str) -> str | None:
    """A job's live preview (a WebP data: URL) as the bare base64 PNG A1111's current_image is."""
    if not preview.startswith("data:image/"):
        return None
    with Image.open(io.BytesIO(base64.b64decode(preview.partition(",")[2]))) as image:
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
    return _png_base64(buffer.getvalue())


class ProgressApi(A1111View):
    def get(self, request):
        job = job_current_for_user(user=request.user)
        running = job is not None and job.status == GenerationJob.Status.RUNNING
        queued = job is not None and job.status == GenerationJob.Status.QUEUED
        steps = job.prompt.steps if job is not None else 0
        done = job.step if running else 0
        progress = done / job.total_steps if running and job.total_steps else 0.0
        eta = None
        if running and job.started_at and progress > 0:
            elapsed = time.time() - job.started_at.timestamp()
            eta = elapsed / progress * (1 - progress)
        skip_image = request.query_params.get("skip_current_image", "false").lower() == "true"
        textinfo = None
        if queued:
            textinfo = f"Queued: {job_queue_position(job=job) or 0} ahead"
        elif running:
            textinfo = f"Image {min(done // steps + 1, job.prompt.num_images)} of {job.prompt.num_images}"
        return Response(
            {
                "progress": round(progress, 4),
                "eta_relative": round(eta, 2) if eta is not None else 0.0,
                "state": {
                    "skipped": False,
                    "interrupted": bool(job is not None and job.status == GenerationJob.Status.CANCELLED),
                    "job": f"job-{job.pk}" if running or queued else "",
                    "job_count": job.prompt.num_images if running or queued else 0,
                    "job_timestamp": job.created_at.strftime("%Y%m%d%H%M%S") if job is not None else "0",
                    "job_no": (done // steps if steps else 0) if running else 0,
                    "sampling_step": done % steps if running and steps else 0,
                    "sampling_steps": steps if running or queued else 0,
                },
                "current_image": None if skip_image or not running else _preview_png(job.preview),
                "textinfo": textinfo,
                "current_task": f"job-{job.pk}" if running or queued else None,
            }
        )


class InterruptApi(A1111View):
    def post(self, request):
        for job in GenerationJob.objects.filter(user=request.user, status=GenerationJob.Status.RUNNING):
            with contextlib.suppress(DjangoValidationError):  # it finished meanwhile
                generation_services.generation_job_cancel(job=job)
        return Response({})


def _model_entry(version) -> dict:
    return {
        "title": checkpoint_title(version),
        "model_name": version.version_name,
        "hash": version.artifact_sha256[:10] or None,
        "sha256": version.artifact_sha256 or None,
        "filename": version.version_name,
        "config": None,
    }


class SdModelsApi(A1111View):
    def get(self, request):
        return Response([_model_entry(version) for version in served_models()])


class SamplersApi(A1111View):
    """Every sampler some served model offers, each model's own first (A1111 lists one set for its one model)."""

    def get(self, request):
        names = list(dict.fromkeys(name for version in served_models() for name in version.samplers))
        return Response([{"name": n, "aliases": SAMPLER_ALIASES.get(n, []), "options": {}} for n in names])


class SchedulersApi(A1111View):
    def get(self, request):
        return Response(
            [
                {"name": n, "label": n.title(), "aliases": None, "default_rho": -1, "need_inner_model": False}
                for n in SCHEDULERS
            ]
        )


class ScriptsApi(A1111View):
    def get(self, request):
        return Response({"txt2img": [], "img2img": []})


class OptionsApi(A1111View):
    def _options(self, request) -> dict:
        version = client_checkpoint(user=request.user)
        return {
            "sd_model_checkpoint": checkpoint_title(version) if version else None,
            "sd_checkpoint_hash": (version.artifact_sha256 or None) if version else None,
            "samples_format": "png",
            "CLIP_stop_at_last_layers": 1,
            "eta_noise_seed_delta": 0,
        }

    def get(self, request):
        return Response(self._options(request))

    def post(self, request):
        if not isinstance(request.data, dict):
            raise exceptions.ValidationError({"non_field_errors": ["the body must be a JSON object"]})
        other = sorted(set(request.data) - {"sd_model_checkpoint"})
        if other:
            raise exceptions.ValidationError(
                {name: ["the studio lets a client set only sd_model_checkpoint"] for name in other}
            )
        if "sd_model_checkpoint" in request.data:
            services.client_checkpoint_set(user=request.user, name=str(request.data["sd_model_checkpoint"]))
        return Response(self._options(request))


class PngInfoApi(A1111View):
    def post(self, request):
        image = request.data.get("image") if isinstance(request.data, dict) else None
        try:
            text = image_parameters(image_bytes(image))
        except ValueError as error:
            raise exceptions.ValidationError({"image": [str(error)]}) from None
        return Response(
            {"info": text, "items": {"parameters": text} if text else {}, "parameters": parse_infotext(text)}
        )
