"""The studio: the Django project that serves the gallery website, the REST API and live progress."""

from t2i_site.celery import app as celery_app

__all__ = ["celery_app"]
