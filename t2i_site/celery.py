"""The Celery app. Generation tasks go to the "gpu" queue (T2I_GPU_QUEUE), which the model workers consume."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "t2i_site.settings.local")

app = Celery("t2i_site")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
