"""Per-image scores the worker fills: a realism score and an alignment score in place of a per-image FID, which
does not exist (FID compares two sets of images; the model page reports it for a version)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("generation", "0006_call_layout")]

    operations = [
        migrations.RemoveField(model_name="generatedimage", name="fid_score"),
        migrations.AddField(
            model_name="generatedimage", name="realism_score", field=models.FloatField(blank=True, null=True)
        ),
        migrations.AddField(
            model_name="generatedimage", name="alignment_score", field=models.FloatField(blank=True, null=True)
        ),
    ]
