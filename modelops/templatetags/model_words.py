"""How the staff model page names a version's sampler, for people: "UniPC · best of 10 candidates, ranked by a
critic, the best kept from step 4" for the pipeline's own label "UniPC, best of 10 ranked by a critic, pruned 1@4
(keep@step)" (ml_engine.pipelines.shapes; the stages are keep@after_step, ml_engine.pipelines.pruning)."""

import re

from django import template

from modelops.models import ModelVersion

register = template.Library()

_RANKED = re.compile(
    r"^(?P<name>[^,]+), best of (?P<candidates>\d+) ranked by a critic"
    r"(?:, pruned (?P<stages>\d+@\d+(?:,\d+@\d+)*) \(keep@step\))?(?P<rest>.*)$"
)
_GAN = re.compile(r"^GAN \((?P<how>.+)\)$")


@register.filter
def sampler_in_words(version: ModelVersion) -> str:
    label = version.sampler_name
    gan = _GAN.match(label)
    if gan:
        return f"one pass of the generator · {gan['how']}" if gan["how"] != "one pass" else "one pass of the generator"
    ranked = _RANKED.match(label)
    if ranked is None:
        return label or "—"
    words = f"best of {ranked['candidates']} candidates, ranked by a critic"
    for stage in (ranked["stages"] or "").split(",") if ranked["stages"] else ():
        keep, step = stage.split("@")
        words += f", the best kept from step {step}" if keep == "1" else f", the best {keep} kept from step {step}"
    rest = ranked["rest"].removeprefix(", ").replace("bf16", "bfloat16")
    return " · ".join(part for part in (ranked["name"], words, rest) if part)
