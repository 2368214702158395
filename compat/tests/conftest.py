import pytest


@pytest.fixture
def worker_in_process(monkeypatch):
    """The synchronous views' wait runs the job right here, as a worker would, then reads its end."""
    from compat import a1111_api, openai_api, selectors
    from generation.execution import generation_job_execute

    real_wait = selectors.job_wait_finished

    def run_then_read(*, job_id, timeout_s=None):
        generation_job_execute(job_id=job_id)
        return real_wait(job_id=job_id, timeout_s=0)

    for module in (openai_api, a1111_api):
        monkeypatch.setattr(module, "job_wait_finished", run_then_read)


@pytest.fixture
def basic_as(db):
    """basic_as(user, password) -> an APIClient sending HTTP basic credentials, as A1111 clients do."""
    import base64

    from rest_framework.test import APIClient

    from compat.authentication import credentials_forget

    credentials_forget()

    def make(user, password="correct horse battery staple"):
        client = APIClient()
        pair = base64.b64encode(f"{user.username}:{password}".encode()).decode()
        client.credentials(HTTP_AUTHORIZATION=f"Basic {pair}")
        return client

    return make
