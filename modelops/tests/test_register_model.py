"""Registering a model folder of one's own (`manage.py register_model`, the model page's form): a tiny Stable
Diffusion folder becomes a hash-pinned registry version with no alias, its sizes, samplers and defaults recorded;
bad folders and taken names are refused with the reason, and nothing is registered then."""

import json
import shutil
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from modelops.models import ModelChange, ModelVersion
from modelops.runtime import registry_client

SAMPLERS = ["DPM++ 2M", "UniPC", "Euler a", "Euler", "DDIM"]


@pytest.fixture
def my_sd(tiny_sd_dir, tmp_path):
    """A designer's own Stable Diffusion folder (a copy: registering writes its studio.json)."""
    folder = tmp_path / "my-sd"
    shutil.copytree(tiny_sd_dir, folder)
    return folder


def register(*args) -> str:
    out = StringIO()
    call_command("register_model", *map(str, args), stdout=out)
    return out.getvalue()


def test_the_command_registers_a_folder_as_a_pinned_registry_version_without_alias(champion, my_sd):
    from ml_engine.provenance import folder_sha256

    printed = register(my_sd, "--name", "my-turbo", "--steps", 1, "--guidance", 0)

    version = ModelVersion.objects.get(version_name="my-turbo")
    assert json.loads((my_sd / "studio.json").read_text()) == {"default_steps": 1, "default_guidance": 0.0}
    assert version.source == "registry:shapes-diffusion/2" and version.registry_version == 2
    assert version.artifact_sha256 == folder_sha256(my_sd)  # studio.json included: the workers' copy carries it
    assert version.aliases == [] and not version.is_current and champion.pk != version.pk
    assert version.supported_sizes == [[64, 64]] and version.samplers == SAMPLERS
    assert (version.default_steps, version.default_guidance, version.sampler_name) == (1, 0.0, "DPM++ 2M")
    registered = registry_client().version(2)
    assert registered.aliases == [] and registered.pipeline_info["samplers"] == SAMPLERS
    change = ModelChange.objects.get(to_version=version)
    assert change.action == ModelChange.Action.REGISTER and change.from_version is None and str(my_sd) in change.reason
    for line in (
        "registered my-turbo as registry:shapes-diffusion/2",
        "64x64",
        "DPM++ 2M, UniPC",
        "1 steps, guidance 0",
    ):
        assert line in printed
    assert version.artifact_sha256 in printed


def test_a_worker_loads_the_registered_copy_with_its_defaults(champion, my_sd):
    from ml_engine.pipelines.diffusers_adapter import DiffusersTextToImage
    from modelops.runtime import pipeline_load

    register(my_sd, "--name", "my-turbo", "--steps", 2, "--guidance", 1.5)
    pipe = pipeline_load(ModelVersion.objects.get(version_name="my-turbo").source)  # fetched and hash-checked
    assert isinstance(pipe, DiffusersTextToImage) and str(my_sd) not in str(pipe.pipe.name_or_path)
    assert (pipe.default_steps, pipe.default_guidance) == (2, 1.5)


def test_sync_keeps_one_row_and_a_promotion_of_it_holds(champion, my_sd, staff):
    """The folder is a version of the champion's registered model: the mirror finds its row, and the champion
    alias it gets is the one sync follows."""
    from modelops.services import model_version_promote, model_version_sync

    register(my_sd, "--name", "mine")
    assert model_version_sync() == [] and ModelVersion.objects.count() == 2
    mine = ModelVersion.objects.get(version_name="mine")
    model_version_promote(version=mine, actor=staff, force=True, reason="our own model, not evaluated on shapes")
    model_version_sync()
    mine.refresh_from_db()
    assert mine.is_current and mine.aliases == ["champion"]
    assert registry_client().alias_version("champion").version == mine.registry_version


def _pickled(folder):
    (folder / "unet" / "diffusion_pytorch_model.bin").write_bytes(b"not really a pickle")


def _img2img(folder):
    index = json.loads((folder / "model_index.json").read_text())
    (folder / "model_index.json").write_text(json.dumps({**index, "_class_name": "StableDiffusionImg2ImgPipeline"}))


@pytest.mark.parametrize(
    ("spoil", "extra", "reason"),
    [
        (lambda f: (f / "model_index.json").unlink(), [], "folder: .* has no model_index.json"),
        (_pickled, [], r"pickle-format weights \(unet/diffusion_pytorch_model.bin\)"),
        (_img2img, [], "StableDiffusionImg2ImgPipeline is not a text-to-image pipeline"),
        (lambda f: None, ["--name", "diffusion"], "a model version named 'diffusion' already exists"),
        (lambda f: None, ["--name", "../up"], "version_name: 1 to 100 letters"),
        (lambda f: None, ["--steps", 0], "default_steps: must be between 1 and 100"),
        (lambda f: None, ["--guidance", 21], "default_guidance: must be between 0 and 20"),
    ],
    ids=["no-model-index", "pickle", "not-text-to-image", "taken-name", "bad-name", "steps", "guidance"],
)
def test_bad_folders_and_names_are_refused_and_nothing_is_registered(champion, my_sd, spoil, extra, reason):
    spoil(my_sd)
    args = [my_sd, "--name", "mine", *extra] if "--name" not in extra else [my_sd, *extra]
    with pytest.raises(CommandError, match=reason):
        register(*args)
    assert list(ModelVersion.objects.values_list("version_name", flat=True)) == ["diffusion"]
    assert [v.version for v in registry_client().versions()] == [1]
    assert not (my_sd / "studio.json").exists()


def test_staff_register_a_folder_from_the_model_page(champion, my_sd, client_as, staff):
    client = client_as(staff)
    page = client.get("/modelops/")
    assert b'action="/modelops/register/"' in page.content and b'name="default_guidance"' in page.content

    form = {"folder": str(my_sd), "version_name": "mine", "default_steps": "4", "default_guidance": ""}
    response = client.post("/modelops/register/", form, follow=True)

    assert response.redirect_chain == [("/modelops/", 302)]
    assert b"Registered mine as registry version 2" in response.content
    version = ModelVersion.objects.get(version_name="mine")
    assert (version.default_steps, version.default_guidance) == (4, 7.5)
    assert ModelChange.objects.get(to_version=version).actor == staff


def test_the_form_shows_what_is_wrong_and_registers_nothing(champion, my_sd, client_as, staff):
    _pickled(my_sd)
    response = client_as(staff).post("/modelops/register/", {"folder": str(my_sd), "version_name": "diffusion"})
    assert response.status_code == 400
    text = response.content.decode()
    assert "pickle-format weights" in text and "a model version named &#x27;diffusion&#x27; already exists" in text
    relative = client_as(staff).post("/modelops/register/", {"folder": "my-sd", "version_name": "mine"})
    assert relative.status_code == 400 and "give the folder&#x27;s absolute path" in relative.content.decode()
    assert ModelVersion.objects.count() == 1


def test_a_signed_in_non_staff_user_cannot_register(champion, my_sd, client_as, alice):
    response = client_as(alice).post("/modelops/register/", {"folder": str(my_sd), "version_name": "mine"})
    assert response.status_code == 403 and ModelVersion.objects.count() == 1


def test_a_pipelines_height_by_width_sizes_are_kept_width_by_height():
    """Pipelines take (height, width); rows, forms and the API speak width x height: 4:3 at 512 is 576 wide."""
    from types import SimpleNamespace

    from ml_engine.pipelines.diffusers_adapter import aspect_sizes
    from ml_engine.registry import pipeline_info_of

    pipe = SimpleNamespace(
        supported_sizes=aspect_sizes(512, 64), default_steps=20, default_guidance=7.5, sampler_name="DPM++ 2M"
    )
    sizes = pipeline_info_of(pipe)["supported_sizes"]
    assert sizes[:3] == [[512, 512], [576, 448], [448, 576]]
    version = ModelVersion(supported_sizes=sizes)
    assert version.supports(576, 448) and version.sizes_label.startswith("512x512, 576x448, 448x576")
