from django.db import migrations, models

# ml_engine/data/vocabulary.py's groups, copied: a migration must not change when the code does
SHAPES_VOCABULARY = {
    "shapes": [
        "circle",
        "disc",
        "square",
        "box",
        "triangle",
        "cross",
        "plus sign",
        "circles",
        "discs",
        "squares",
        "boxes",
        "triangles",
        "crosses",
        "plus signs",
    ],
    "colours": ["red", "orange", "yellow", "green", "cyan", "turquoise", "blue", "purple", "violet", "pink"],
    "sizes": ["small", "tiny", "little", "large", "big"],
    "relations": [
        "to the left of",
        "on the left of",
        "left of",
        "to the right of",
        "on the right of",
        "right of",
        "above",
        "over",
        "below",
        "under",
        "beneath",
        "next to",
    ],
    "counts": ["two", "three", "four", "2", "3", "4"],
    "other": ["a", "an", "and", "the", "of", "to", "on", "is", "that", "there", "with", "exactly", "one", "pair"],
    "examples": [
        "a red circle to the left of a blue square",
        "three yellow triangles",
        "a large green cross above a small pink circle",
        "an orange square and a purple triangle",
        "a tiny cyan disc next to a big box",
    ],
}


def shapes_rows_know_their_words(apps, schema_editor):
    """Rows made before the field existed: a 64x64 model is a Shapes model (diffusion or GAN), which read only the
    Shapes captions; any other keeps an open vocabulary until it is registered again."""
    ModelVersion = apps.get_model("modelops", "ModelVersion")
    for row in ModelVersion.objects.filter(vocabulary={}):
        if [list(size) for size in row.supported_sizes] == [[64, 64]]:
            row.vocabulary = SHAPES_VOCABULARY
            row.save(update_fields=["vocabulary"])


class Migration(migrations.Migration):
    dependencies = [
        ("modelops", "0005_model_change_register"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelversion",
            name="vocabulary",
            field=models.JSONField(blank=True, default=dict),
        ),
        migrations.RunPython(shapes_rows_know_their_words, migrations.RunPython.noop),
    ]
