"""AUTOMATIC1111's API: the whole payload webuiapi posts, A1111's answers, basic auth, progress, png-info."""

import base64
import io
import json

import pytest
from PIL import Image

from generation.models import GenerationJob

# what webuiapi 0.9 posts for txt2img(prompt=..., seed=11, batch_size=2, width=64, height=64), at its defaults
WEBUIAPI_PAYLOAD = {
    "enable_hr": False,
    "hr_scale": 2,
    "hr_upscaler": "Latent",
    "hr_second_pass_steps": 0,
    "hr_resize_x": 0,
    "hr_resize_y": 0,
    "hr_checkpoint_name": None,
    "hr_sampler_name": None,
    "hr_scheduler": None,
    "hr_prompt": "",
    "hr_negative_prompt": "",
    "denoising_strength": 0.7,
    "firstphase_width": 0,
    "firstphase_height": 0,
    "prompt": "a red circle",
    "styles": [],
    "seed": 11,
    "subseed": -1,
    "subseed_strength": 0.0,
    "seed_resize_from_h": 0,
    "seed_resize_from_w": 0,
    "batch_size": 2,
    "n_iter": 1,
    "steps": 3,
    "cfg_scale": 7.0,
    "width": 64,
    "height": 64,
    "restore_faces": False,
    "tiling": False,
    "do_not_save_samples": False,
    "do_not_save_grid": False,
    "negative_prompt": "",
    "eta": 1.0,
    "s_churn": 0,
    "s_tmax": 0,
    "s_tmin": 0,
    "s_noise": 1,
    "override_settings": {},
    "override_settings_restore_afterwards": True,
    "sampler_name": "Euler a",
    "scheduler": "automatic",
    "sampler_index": "Euler a",
    "script_name": None,
    "script_args": [],
    "send_images": True,
    "save_images": False,
    "alwayson_scripts": {},
}


@pytest.fixture
def alice_a1111(basic_as, alice, model_version):
    return basic_as(alice)


def _images(response) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(b64))) for b64 in response.json()["images"]]


def test_txt2img_takes_webuiapis_whole_payload_and_answers_in_a1111s_shape(alice_a1111, alice, worker_in_process):
    response = alice_a1111.post("/sdapi/v1/txt2img", WEBUIAPI_PAYLOAD, format="json")

    assert response.status_code == 200, response.json()
    images = _images(response)
    assert [image.size for image in images] == [(64, 64)] * 2
    info = json.loads(response.json()["info"])
    assert info["seed"] == 11 and info["all_seeds"] == [11, 12] and info["sampler_name"] == "Euler a"
    assert "Seed: 12" in info["infotexts"][1] and "Sampler: Euler a" in info["infotexts"][1]
    assert response.json()["parameters"]["prompt"] == "a red circle"
    job = GenerationJob.objects.get(user=alice)  # an ordinary job, in her gallery
    assert (job.prompt.sampler, job.prompt.steps, job.prompt.guidance, job.images.count()) == ("Euler a", 3, 7.0, 2)


def test_the_same_seed_gives_the_same_pixels(alice_a1111, worker_in_process):
    # the tiny random model saturates to black under Euler a at CFG 7; DPM++ 2M at 4 keeps the seeds apart
    payload = WEBUIAPI_PAYLOAD | {"sampler_name": "DPM++ 2M", "cfg_scale": 4.0}
    first = _images(alice_a1111.post("/sdapi/v1/txt2img", payload, format="json"))
    second = _images(alice_a1111.post("/sdapi/v1/txt2img", payload, format="json"))
    assert [image.tobytes() for image in first] == [image.tobytes() for image in second]
    assert first[0].tobytes() != first[1].tobytes()  # seeds 11 and 12


def test_seed_minus_one_draws_one_and_reports_it(alice_a1111, worker_in_process):
    response = alice_a1111.post("/sdapi/v1/txt2img", WEBUIAPI_PAYLOAD | {"seed": -1, "batch_size": 1}, format="json")
    info = json.loads(response.json()["info"])
    assert info["seed"] >= 0 and info["all_seeds"] == [info["seed"]]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"enable_hr": True}, "enable_hr"),
        ({"styles": ["cinematic"]}, "styles"),
        ({"restore_faces": True}, "restore_faces"),
        ({"script_name": "x/y/z plot"}, "script_name"),
        ({"alwayson_scripts": {"ControlNet": {"args": []}}}, "alwayson_scripts"),
        ({"subseed_strength": 0.5}, "subseed_strength"),
        ({"sampler_name": "Heun", "sampler_index": "Heun"}, "sampler"),
        ({"width": 512, "height": 512}, "width"),
        ({"scheduler": "Karras"}, "scheduler"),
        ({"batch_size": 3, "n_iter": 2}, "batch_size"),
        ({"stpes": 20}, "stpes"),
        ({"override_settings": {"sd_model_checkpoint": "sd-xl"}}, "override_settings"),
    ],
)
def test_what_the_studio_lacks_is_a_400_naming_it(alice_a1111, change, field):
    response = alice_a1111.post("/sdapi/v1/txt2img", WEBUIAPI_PAYLOAD | change, format="json")

    assert response.status_code == 400, response.json()
    body = response.json()
    assert body["error"] == "BadRequest" and field in body["errors"], body


def test_an_unknown_sampler_lists_the_allowed_ones(alice_a1111):
    body = alice_a1111.post("/sdapi/v1/txt2img", WEBUIAPI_PAYLOAD | {"sampler_name": "Heun"}, format="json").json()
    assert "UniPC" in body["detail"] and "Euler a" in body["detail"]


def test_basic_auth_takes_the_password_or_an_api_key_and_refuses_others(basic_as, alice, model_version):
    from accounts.services import api_key_create

    assert basic_as(alice).get("/sdapi/v1/sd-models").status_code == 200
    assert basic_as(alice, api_key_create(user=alice, name="krita")[1]).get("/sdapi/v1/sd-models").status_code == 200
    wrong = basic_as(alice, "wrong").get("/sdapi/v1/sd-models")
    assert wrong.status_code == 401 and wrong["WWW-Authenticate"].startswith("Basic")
    from rest_framework.test import APIClient

    assert APIClient().get("/sdapi/v1/progress").status_code == 401


def test_a_changed_password_ends_remembered_credentials(basic_as, alice, model_version):
    client = basic_as(alice)
    assert client.get("/sdapi/v1/options").status_code == 200
    alice.set_password("a new long passphrase")
    alice.save()
    assert client.get("/sdapi/v1/options").status_code == 401


def test_password_guesses_are_throttled(basic_as, alice, model_version, settings):
    statuses = [basic_as(alice, f"guess-{i}").get("/sdapi/v1/options").status_code for i in range(12)]
    assert statuses[0] == 401 and statuses[-1] == 429  # T2I_SIGNIN_RATE_USERNAME: 10 an hour


def test_sd_models_samplers_and_options_follow_the_registry(alice_a1111, alice):
    from modelops.tests.factories import ModelVersionFactory

    ModelVersionFactory(version_name="gan", is_current=False, samplers=[], artifact_sha256="ab" * 32)
    models = alice_a1111.get("/sdapi/v1/sd-models").json()
    assert {m["model_name"] for m in models} == {"diffusion", "gan"}
    assert "gan [ababababab]" in {m["title"] for m in models}
    assert [s["name"] for s in alice_a1111.get("/sdapi/v1/samplers").json()][:2] == ["DPM++ 2M", "UniPC"]
    assert alice_a1111.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == "diffusion"

    assert (
        alice_a1111.post("/sdapi/v1/options", {"sd_model_checkpoint": "gan [ababababab]"}, format="json").status_code
        == 200
    )
    assert alice_a1111.get("/sdapi/v1/options").json()["sd_model_checkpoint"] == "gan [ababababab]"
    refused = alice_a1111.post("/sdapi/v1/options", {"sd_model_checkpoint": "nope"}, format="json")
    assert refused.status_code == 400 and "diffusion" in refused.json()["detail"]
    assert alice_a1111.post("/sdapi/v1/options", {"samples_format": "jpg"}, format="json").status_code == 400


def test_a_checkpoint_set_by_options_serves_the_next_txt2img(alice_a1111, alice, worker_in_process, tiny_model_dir):
    from modelops.tests.factories import ModelVersionFactory

    ModelVersionFactory(version_name="other", is_current=False)
    alice_a1111.post("/sdapi/v1/options", {"sd_model_checkpoint": "other"}, format="json")
    response = alice_a1111.post("/sdapi/v1/txt2img", WEBUIAPI_PAYLOAD, format="json")
    assert json.loads(response.json()["info"])["sd_model_name"] == "other"


def test_png_info_reads_the_infotext_from_base64_or_a_data_url(alice_a1111, worker_in_process):
    b64 = alice_a1111.post("/sdapi/v1/txt2img", WEBUIAPI_PAYLOAD, format="json").json()["images"][0]

    for image in (b64, "data:image/png;base64," + b64):
        body = alice_a1111.post("/sdapi/v1/png-info", {"image": image}, format="json").json()
        assert body["info"].startswith("a red circle\n") and "Seed: 11" in body["info"]
        assert body["parameters"]["Seed"] == "11" and body["parameters"]["Sampler"] == "Euler a"
        assert (body["parameters"]["Size-1"], body["parameters"]["Size-2"]) == ("64", "64")
    assert alice_a1111.post("/sdapi/v1/png-info", {"image": "bm90IGFuIGltYWdl"}, format="json").status_code == 400


def test_progress_reports_the_running_job_and_interrupt_cancels_it(alice_a1111, alice):
    idle = alice_a1111.get("/sdapi/v1/progress").json()
    assert idle["progress"] == 0 and idle["state"]["job_count"] == 0

    from generation.services import generation_job_submit

    job = generation_job_submit(user=alice, text="a circle", steps=4, num_images=2)
    queued = alice_a1111.get("/sdapi/v1/progress").json()
    assert queued["state"]["job_count"] == 2 and queued["textinfo"].startswith("Queued")
    GenerationJob.objects.filter(pk=job.pk).update(status="running", step=6, total_steps=8, lease_owner="w:1")
    running = alice_a1111.get("/sdapi/v1/progress").json()
    assert running["progress"] == 0.75
    assert (running["state"]["job_no"], running["state"]["sampling_step"], running["state"]["sampling_steps"]) == (
        1,
        2,
        4,
    )

    assert alice_a1111.post("/sdapi/v1/interrupt").status_code == 200
    assert GenerationJob.objects.get(pk=job.pk).cancel_requested


def test_the_gan_ignores_the_sampler_every_a1111_client_sends(alice_a1111, alice, worker_in_process):
    from modelops.tests.factories import ModelVersionFactory

    ModelVersionFactory(version_name="gan", is_current=False, samplers=[])
    payload = WEBUIAPI_PAYLOAD | {"override_settings": {"sd_model_checkpoint": "gan"}}
    from compat.a1111_payload import read_txt2img

    assert read_txt2img(payload, default_checkpoint=None).job["sampler"] is None
