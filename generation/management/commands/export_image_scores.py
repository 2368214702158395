"""Write every scored image's per-image scores beside its human ratings as JSON lines, for evaluation: how the
realism and alignment scores agree with people, per model version, over time."""

import json

from django.core.management.base import BaseCommand

from generation.selectors import image_score_rows


class Command(BaseCommand):
    help = "Export each image's realism and alignment scores, its model, prompt, seed and ratings (JSON lines)."

    def add_arguments(self, parser):
        parser.add_argument("--out", default="-", help="output file (default: stdout)")
        parser.add_argument("--model", default="", help="only this model version's images")

    def handle(self, *args, out, model, **options):
        lines = (json.dumps(row, default=str) for row in image_score_rows(model=model))
        if out == "-":
            for line in lines:
                self.stdout.write(line)
            return
        count = 0
        with open(out, "w") as f:
            for line in lines:
                f.write(line + "\n")
                count += 1
        self.stdout.write(f"wrote {count} images to {out}")
