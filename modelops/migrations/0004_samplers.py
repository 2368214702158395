from django.db import migrations, models

# ml_engine/samplers.py's names, copied: a migration must not change when the code does
SAMPLER_NAMES = ("UniPC", "DPM++ 2M", "Euler a", "Euler", "DDIM")


def samplers_from_labels(apps, schema_editor):
    """Rows made before the field existed: a diffusion model whose label starts with one of the names offers them
    all, its own first; a GAN ("GAN (...)") or a pipeline of unknown kind offers none until it is registered again."""
    ModelVersion = apps.get_model("modelops", "ModelVersion")
    for row in ModelVersion.objects.filter(samplers=[]):
        own = row.sampler_name.split(",")[0].strip()
        if own in SAMPLER_NAMES:
            row.samplers = [own, *(name for name in SAMPLER_NAMES if name != own)]
            row.save(update_fields=["samplers"])


class Migration(migrations.Migration):
    dependencies = [
        ("modelops", "0003_sampler_name_fits_the_bundled_labels"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="samplers",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.RunPython(samplers_from_labels, migrations.RunPython.noop),
    ]
