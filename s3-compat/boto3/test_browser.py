"""A presigned PUT and GET sent by a page in headless Chromium: the bucket's CORS rules must
answer the browser's preflight and mark the responses readable. A bucket without CORS rules
must be unreadable from the page."""

from __future__ import annotations

import functools
import http.server
import json
import pathlib
import shutil
import subprocess
import threading
import urllib.parse

import pytest

from s3util import ON_MOTO

PAGE_DIR = pathlib.Path(__file__).resolve().parent.parent / "browser"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed"),
    pytest.mark.skipif(ON_MOTO, reason="moto's server does not answer CORS preflights"),
]


@pytest.fixture
def page_origin():
    """Serves browser/ on a loopback port of its own: the page's origin differs from S3's."""
    handler = functools.partial(
        http.server.SimpleHTTPRequestHandler, directory=str(PAGE_DIR)
    )
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def run_page(url: str) -> dict:
    proc = subprocess.run(
        [
            CHROMIUM,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--ignore-certificate-errors",
            "--no-first-run",
            "--user-data-dir=/tmp/cnx-chromium-profile",
            "--virtual-time-budget=15000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    marker = "RESULT "
    at = proc.stdout.find(marker)
    assert at >= 0, f"page did not report; stdout={proc.stdout[-2000:]!r} stderr={proc.stderr[-2000:]!r}"
    text = proc.stdout[at + len(marker):]
    return json.loads(text[: text.index("</pre>")].replace("&amp;", "&").replace("&quot;", '"'))


def test_presigned_put_and_get_from_a_page(s3, make_bucket, page_origin):
    bucket = make_bucket("browser")
    closed = make_bucket("browser-nocors")
    s3.put_bucket_cors(
        Bucket=bucket,
        CORSConfiguration={
            "CORSRules": [
                {
                    "AllowedOrigins": [page_origin],
                    "AllowedMethods": ["GET", "PUT"],
                    "AllowedHeaders": ["*"],
                    "ExposeHeaders": ["ETag"],
                    "MaxAgeSeconds": 60,
                }
            ]
        },
    )
    s3.put_object(Bucket=closed, Key="secret.txt", Body=b"not for pages")
    key = "from the browser/ünï.txt"
    content_type = "application/x-cnx-test"
    put_url = s3.generate_presigned_url(
        "put_object",
        Params={"Bucket": bucket, "Key": key, "ContentType": content_type},
        ExpiresIn=300,
    )
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    denied_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": closed, "Key": "secret.txt"}, ExpiresIn=300
    )
    cfg = {
        "put_url": put_url,
        "get_url": get_url,
        "denied_url": denied_url,
        "content_type": content_type,
        "body": "hello from chromium",
    }
    report = run_page(f"{page_origin}/page.html#{urllib.parse.quote(json.dumps(cfg))}")
    assert "error" not in report, report
    assert report["put_status"] == 200, report
    assert report["put_etag"], "ETag is exposed by the rule"
    assert report["get_status"] == 200, report
    assert report["get_body"] == "hello from chromium"
    assert report["get_content_type"] == content_type
    # Without CORS rules the browser refuses the page the response.
    assert report["denied"].startswith("blocked"), report
    obj = s3.get_object(Bucket=bucket, Key=key)
    assert obj["Body"].read() == b"hello from chromium"
    assert obj["ContentType"] == content_type


def test_form_upload_from_a_page(s3, make_bucket, page_origin):
    """A page's HTML form posts a file to the bucket with a signed policy (no CORS needed: a
    form submission is a navigation), and S3's redirect brings the browser back to the site."""
    bucket = make_bucket("browser-form")
    done = f"{page_origin}/post-done.html"
    post = s3.generate_presigned_post(
        bucket,
        "forms/${filename}",
        Fields={"success_action_redirect": done, "Content-Type": "text/plain"},
        Conditions=[
            {"success_action_redirect": done},
            {"Content-Type": "text/plain"},
            ["content-length-range", 1, 1024],
        ],
        ExpiresIn=300,
    )
    cfg = {
        "url": post["url"],
        "fields": post["fields"],
        "body": "posted by a chromium form",
        "filename": "note ü.txt",
        "type": "text/plain",
    }
    report = run_page(f"{page_origin}/post-form.html#{urllib.parse.quote(json.dumps(cfg))}")
    assert "error" not in report, report
    assert report["bucket"] == bucket and report["key"] == "forms/note ü.txt", report
    obj = s3.get_object(Bucket=bucket, Key="forms/note ü.txt")
    assert obj["Body"].read() == b"posted by a chromium form"
    assert obj["ContentType"] == "text/plain"
    assert report["etag"] == obj["ETag"]
