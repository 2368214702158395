"""The REST API against its own OpenAPI schema, fuzzed by schemathesis with every check it has, as a signed-in
user and as staff, against a live daphne and a real worker: no server error, no undocumented status code or
content type, no schema-valid request refused, no schema-violating request accepted, no response that breaks
its schema. At least 5,000 generated cases in all.

    T2I_FUZZ_EXAMPLES=300 .venv/bin/python -m pytest tests/test_api_fuzz.py   # more cases per operation
"""

import os
import re
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("T2I_FUZZ_EXAMPLES", "140"))  # per operation and phase
SEED = os.environ.get("T2I_FUZZ_SEED", "20261207")  # fixed, so a failure replays; change it to explore anew


@pytest.fixture
def unthrottled(monkeypatch):
    """The fuzzer sends thousands of requests a minute; the throttles have their own tests."""
    from rest_framework.throttling import SimpleRateThrottle

    rates = dict(SimpleRateThrottle.THROTTLE_RATES, user="1000000/m", anon="1000000/m")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def _schemathesis(url: str, key: str) -> tuple[int, int, str]:
    command = [
        os.path.join(os.path.dirname(sys.executable), "st"),
        "run",
        f"{url}/api/schema/",
        "--checks",
        "all",
        "--header",
        f"Authorization: Token {key}",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        SEED,
        "--workers",
        "2",
        "--no-color",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    generated = re.search(r"(\d+) generated", result.stdout)
    return result.returncode, int(generated.group(1)) if generated else 0, result.stdout[-6000:]


def test_the_api_keeps_to_its_schema_for_a_user_and_for_staff(unthrottled, alice, staff, live_studio):
    from accounts.services import api_key_create

    total = 0
    for user in (alice, staff):
        code, generated, report = _schemathesis(live_studio, api_key_create(user=user, name="fuzz")[1])
        assert code == 0, report
        total += generated
    assert total >= 5000, f"only {total} cases generated"
