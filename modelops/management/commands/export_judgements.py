"""Write the human ratings and A/B arena results per model version as JSON, for `python -m ml_engine compare`."""

import json

from django.core.management.base import BaseCommand

from modelops.selectors import human_judgement_summary


class Command(BaseCommand):
    help = "Export mean ratings per model version and arena win rates (JSON) for the model comparison report."

    def add_arguments(self, parser):
        parser.add_argument("--out", default="-", help="output file (default: stdout)")

    def handle(self, *args, out, **options):
        text = json.dumps(human_judgement_summary(), indent=1, default=str)
        if out == "-":
            self.stdout.write(text)
        else:
            with open(out, "w") as f:
                f.write(text + "\n")
            self.stdout.write(f"wrote {out}")
