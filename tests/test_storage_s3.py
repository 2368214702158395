"""Images in S3 through django-storages, against a real S3-compatible server on loopback (moto's standalone
server in a subprocess): the settings switch on T2I_S3_BUCKET, a saved image reads back, URLs are signed."""

import json
import os
import subprocess
import sys

from tests.servers import ROOT


def test_production_settings_store_images_in_the_configured_bucket(s3_env):
    code = "from django.conf import settings; import json; print(json.dumps(settings.STORAGES['default']))"
    env = {
        **os.environ,
        **s3_env,
        "DJANGO_SETTINGS_MODULE": "t2i_site.settings.production",
        "DJANGO_SECRET_KEY": "x",
        "DATABASE_URL": "sqlite:////tmp/unused.sqlite3",
        "REDIS_URL": "redis://unused:6379/0",
    }
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    storage = json.loads(out.stdout.strip().splitlines()[-1])
    assert storage["BACKEND"] == "storages.backends.s3.S3Storage"
    assert storage["OPTIONS"]["bucket_name"] == "studio-media"
    assert storage["OPTIONS"]["endpoint_url"] == s3_env["T2I_S3_ENDPOINT_URL"]


def test_an_image_saved_to_s3_reads_back_and_its_url_is_signed(s3_env):
    import boto3
    from django.core.files.base import ContentFile
    from storages.backends.s3 import S3Storage

    storage = S3Storage(
        bucket_name=s3_env["T2I_S3_BUCKET"], endpoint_url=s3_env["T2I_S3_ENDPOINT_URL"], querystring_auth=True
    )
    name = storage.save("images/1/job1-0-seed7.png", ContentFile(b"\x89PNG fake bytes"))

    with storage.open(name, "rb") as f:
        assert f.read() == b"\x89PNG fake bytes"
    listed = boto3.client("s3", endpoint_url=s3_env["T2I_S3_ENDPOINT_URL"]).list_objects_v2(Bucket="studio-media")
    assert [o["Key"] for o in listed["Contents"]] == [name]  # it is really in the server's bucket
    assert "Signature=" in storage.url(name) or "X-Amz-Signature=" in storage.url(name)
    storage.delete(name)
    assert not storage.exists(name)
