"""The embedded mode (`make run`) survives its generation worker being SIGKILLed: runstudio starts another, the
killed jobs are queued again and finish with exactly their images, and the web answers throughout."""

import pytest

from tests.chaos.embedded import embedded_worker_kills


@pytest.mark.slow
def test_three_worker_kills_while_four_jobs_run_lose_and_double_nothing(tmp_path, tiny_model_dir):
    run = embedded_worker_kills(var_dir=tmp_path / "var", tiny_model_dir=tiny_model_dir, jobs=4, kills=3, seed=7)

    assert len(run.faults.events) == 3
    for audit in run.audits:
        assert audit.status == "succeeded", (audit.job_id, audit.status, audit.error)
        assert (audit.duplicated, audit.missing) == (0, 0), audit
        # each kill cost exactly one attempt of every job its worker was running (one shared call or several)
        kills = sum(audit.job_id in fault.jobs for fault in run.faults.events)
        assert audit.attempts == 1 + kills, (audit.job_id, audit.attempts, kills)
    assert run.orphans == set()  # every file in storage belongs to an image
    assert run.web_failures == [] and run.web_answered > 0
    assert run.exit_code == 0  # and Ctrl-C left nothing running (checked by stop())
