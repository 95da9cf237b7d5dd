"""s3cmd client suite for cnx-storage (started by ./run; env in s3-compat/SUITES.md).

Drives the s3cmd CLI with a generated s3cfg: path-style (host_bucket without
%(bucket)s), SigV4 (signature_v2 = False), bucket_location = the region, use_https
and ca_certs_file per endpoint. Checks are in s3cmd's idiom: mb/ls/rb, put/get/info/del,
get --continue (Range), cp/mv/modify, ls -r past 1,000 keys, multipart put,
signurl, del --recursive (DeleteObjects), sync (md5), errors and the shared hard keys.
"""

from __future__ import annotations

import pathlib
import sys

import ast
import hashlib
import os
import re
import subprocess
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "clisuite"))
from harness import (  # noqa: E402
    ACCESS_KEY,
    CA_BUNDLE,
    ENDPOINT,
    HOSTPORT,
    INSECURE,
    IS_HTTPS,
    REGION,
    SECRET_KEY,
    WORK,
    CheckFailed,
    Skip,
    Suite,
    bucket_name,
    clean_env,
    curl,
    expect,
    expect_eq,
    load_hard_keys,
    run,
)

MiB = 1024 * 1024
# The runner says whether this server accepts Signature V2 ([s3] sigv2 = true): s3cmd's
# signurl and --signature-v2 must then work; otherwise they must be refused.
SIGV2 = os.environ.get("S3_SIGV2", "") == "1"

# ------------------------------------------------------------------ s3cmd plumbing

HOME = os.path.join(WORK, "home")
os.makedirs(HOME, exist_ok=True)
CFG = os.path.join(WORK, "s3cfg")


def write_cfg(path: str, access_key: str, secret_key: str) -> str:
    lines = [
        "[default]",
        f"access_key = {access_key}",
        f"secret_key = {secret_key}",
        f"host_base = {HOSTPORT}",
        f"host_bucket = {HOSTPORT}",  # no %(bucket)s: path-style requests
        f"bucket_location = {REGION}",
        "signature_v2 = False",
        f"use_https = {IS_HTTPS}",
        f"signurl_use_https = {IS_HTTPS}",
        f"check_ssl_certificate = {not INSECURE}",
        f"check_ssl_hostname = {not INSECURE}",
        f"ca_certs_file = {CA_BUNDLE if IS_HTTPS else ''}",
        "progress_meter = False",
        "encoding = UTF-8",
        "socket_timeout = 60",
        "max_retries = 1",
        "",
    ]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines))
    return path


write_cfg(CFG, ACCESS_KEY, SECRET_KEY)
ENV = clean_env(HOME=HOME, LANG="C.UTF-8", LC_ALL="C.UTF-8", PYTHONIOENCODING="utf-8")


def s3(*args, cfg=CFG, check=True, input=None, timeout=300):
    return run(["s3cmd", "-c", cfg, *args], env=ENV, check=check, input=input, timeout=timeout)


def s3cmd_version() -> str:
    out = run(["s3cmd", "--version"], env=ENV).stdout.strip()
    return out.split()[-1] if out else "unknown"


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def write(path: str, data: bytes) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def ls_entries(out: str, bucket: str) -> list[tuple[str, str]]:
    """s3cmd ls lines -> [(size or 'DIR', key)] (keys may hold spaces)."""
    marker = f"s3://{bucket}/"
    entries = []
    for ln in out.split("\n"):
        if marker not in ln:
            continue
        head, key = ln.split(marker, 1)
        fields = head.split()
        size = "DIR" if fields[:1] == ["DIR"] else (fields[2] if len(fields) >= 3 else "?")
        entries.append((size, key))
    return entries


def ls_keys(*args, bucket: str) -> list[str]:
    return [k for _, k in ls_entries(s3("ls", *args).stdout, bucket)]


def info(uri: str, *extra: str) -> dict[str, str]:
    out = s3(*extra, "info", uri).stdout
    fields = {}
    for ln in out.split("\n"):
        m = re.match(r"^\s{3}([^:]+):\s*(.*)$", ln)
        if m:
            fields[m.group(1).strip()] = m.group(2).strip()
    return fields


def response_headers(debug_err: str) -> list[dict]:
    """The 'headers' dicts of the responses in s3cmd --debug output."""
    found = []
    for m in re.finditer(r"DEBUG: Response:\n(\{.*?\n\s*'status': \d+\})", debug_err, re.S):
        try:
            found.append(ast.literal_eval(m.group(1)))
        except (ValueError, SyntaxError):
            continue
    return found


def requests_sent(debug_err: str) -> list[tuple[str, str]]:
    return re.findall(r"Sending request method_string='(\w+)', uri='([^']*)'", debug_err)


def parts_sent(debug_err: str) -> list[int]:
    """UploadPart numbers in s3cmd --debug output (format_uri() lines)."""
    return sorted({int(n) for n in re.findall(r"format_uri\(\): \S*[?&]partNumber=(\d+)", debug_err)})


# ------------------------------------------------------------------ fixtures

B = bucket_name("s3cmd")
B2 = bucket_name("s3cmd", "other")
LB = bucket_name("s3cmd", "list")
HB = bucket_name("s3cmd", "keys")
HB2 = bucket_name("s3cmd", "keys-copy")
TMPB = bucket_name("s3cmd", "tmp")
V2B = bucket_name("s3cmd", "v2")
ALL_BUCKETS = [B, B2, LB, HB, HB2, TMPB, V2B]

FILES = os.path.join(WORK, "files")
DOWN = os.path.join(WORK, "down")
os.makedirs(DOWN, exist_ok=True)
ALPHA = b"0123456789abcdefghijklmnopqrstuvwxyz"
FIX = {
    "small.bin": os.urandom(1024),
    "big.bin": os.urandom(5 * MiB + 7),
    "empty.txt": b"",
    "my file (1).txt": b"hello from s3cmd\n",
    "résumé-日本.txt": b"unicode name\n",
    "alpha.txt": ALPHA,
}
for _name, _data in FIX.items():
    write(os.path.join(FILES, _name), _data)
MP_SIZE = 20 * MiB + 4321  # 5 MiB parts: 4 full and a short 5th
MP_DATA = os.urandom(MP_SIZE)
MP_FILE = write(os.path.join(WORK, "mp", "mp.bin"), MP_DATA)
TREE = os.path.join(WORK, "tree")
TREE_FILES = {
    "a/f1.bin": os.urandom(3000),
    "a/f2.bin": os.urandom(6000),
    "a/f3.bin": os.urandom(9000),
    "a/deep/g.bin": os.urandom(7000),
    "b/h.txt": b"b\n",
    "with space/i j.txt": b"spaced\n",
    "top+plus.txt": b"top\n",
}
for _rel, _data in TREE_FILES.items():
    write(os.path.join(TREE, _rel), _data)
MANY = os.path.join(WORK, "many")
MANY_NAMES = [f"f{i:04d}.txt" for i in range(1050)]
MANY_GROUPS = 5  # s3cmd uploads one file at a time: five s3cmd processes share the 1,050
for _i, _name in enumerate(MANY_NAMES):
    write(os.path.join(MANY, f"g{_i % MANY_GROUPS}", _name), _name.encode())


# ------------------------------------------------------------------ buckets


def t_mb_ls_info():
    s3("mb", f"s3://{B}")
    buckets = [ln.split()[-1] for ln in s3("ls").stdout.split("\n") if ln.strip()]
    expect(f"s3://{B}" in buckets, f"s3cmd ls does not list {B}: {buckets}")
    expect_eq("bucket Location", REGION, info(f"s3://{B}").get("Location"))
    s3("mb", f"s3://{B2}")


def t_rb_empty():
    s3("mb", f"s3://{TMPB}")
    s3("rb", f"s3://{TMPB}")
    buckets = [ln.split()[-1] for ln in s3("ls").stdout.split("\n") if ln.strip()]
    expect(f"s3://{TMPB}" not in buckets, "removed bucket still listed")


# ------------------------------------------------------------------ objects


def t_put_get():
    for name, data in FIX.items():
        s3("put", os.path.join(FILES, name), f"s3://{B}/rt/{name}")
        local = os.path.join(DOWN, "rt-" + name)
        s3("get", "--force", f"s3://{B}/rt/{name}", local)
        expect_eq(f"sha256 of {name}", sha(data), sha(read(local)))
    listed = dict((k, s) for s, k in ls_entries(s3("ls", f"s3://{B}/rt/").stdout, B))
    expect_eq("ls rt/", {f"rt/{n}": str(len(d)) for n, d in FIX.items()}, listed)


def t_stdin_stdout():
    payload = b"streamed through stdin\n" * 3
    s3("put", "-", f"s3://{B}/stream/stdin.txt", input=payload)
    expect_eq("get to stdout", payload, s3("get", f"s3://{B}/stream/stdin.txt", "-").out)


def t_info():
    fields = info(f"s3://{B}/rt/big.bin")
    expect_eq("File size", str(len(FIX["big.bin"])), fields.get("File size"))
    expect_eq("MD5 sum", md5(FIX["big.bin"]), fields.get("MD5 sum"))
    expect("GMT" in fields.get("Last mod", ""), f"Last mod: {fields.get('Last mod')}")


def t_metadata():
    s3("put", "--mime-type", "text/x-cnx", "--add-header", "x-amz-meta-colour:blue",
       "--add-header", "x-amz-meta-size:large", "--add-header", "Cache-Control:max-age=60",
       "--add-header", 'Content-Disposition:attachment; filename="a.txt"',
       os.path.join(FILES, "alpha.txt"), f"s3://{B}/meta/alpha.txt")
    fields = info(f"s3://{B}/meta/alpha.txt")
    expect_eq("MIME type", "text/x-cnx", fields.get("MIME type"))
    expect_eq("x-amz-meta-colour", "blue", fields.get("x-amz-meta-colour"))
    expect_eq("x-amz-meta-size", "large", fields.get("x-amz-meta-size"))
    expect("md5:" + md5(ALPHA) in fields.get("x-amz-meta-s3cmd-attrs", ""), "s3cmd-attrs lacks the md5")
    heads = response_headers(s3("info", "--debug", f"s3://{B}/meta/alpha.txt").err)
    head = next((h["headers"] for h in heads if h.get("headers", {}).get("x-amz-meta-colour")), {})
    expect_eq("cache-control", "max-age=60", head.get("cache-control"))
    expect_eq("content-disposition", 'attachment; filename="a.txt"', head.get("content-disposition"))
    expect_eq("get body", ALPHA, s3("get", f"s3://{B}/meta/alpha.txt", "-").out)


def t_del():
    s3("put", os.path.join(FILES, "alpha.txt"), f"s3://{B}/del/one.txt")
    expect_eq("listed before", ["del/one.txt"], ls_keys(f"s3://{B}/del/", bucket=B))
    s3("del", f"s3://{B}/del/one.txt")
    expect_eq("listed after", [], ls_keys(f"s3://{B}/del/", bucket=B))
    cmd = s3("info", f"s3://{B}/del/one.txt", check=False)
    expect(cmd.rc != 0 and "404" in cmd.err, f"info of the deleted object: {cmd.describe()}")


def t_del_recursive_batch():
    # del --recursive sends multi-object DeleteObjects requests (up to 1,000 keys each)
    cmd = s3("del", "--recursive", "--debug", f"s3://{LB}/many/")
    posts = [u for m, u in requests_sent(cmd.err) if m == "POST"]
    expect(len(posts) == 2 and all("delete" in u for u in posts),
           f"expected 2 POST ?delete requests for 1,050 keys, saw {posts}")
    expect_eq("deleted", 1050, cmd.stdout.count("delete: 's3://"))
    expect_eq("left", [], ls_keys("--recursive", f"s3://{LB}/", bucket=LB))
    s3("rb", f"s3://{LB}")


# ------------------------------------------------------------------ range


def t_get_continue_range():
    data = FIX["big.bin"]
    local = write(os.path.join(DOWN, "partial.bin"), data[:1_000_000])
    cmd = s3("get", "--continue", "--debug", f"s3://{B}/rt/big.bin", local)
    expect_eq("resumed download", sha(data), sha(read(local)))
    ranged = [h for h in response_headers(cmd.err) if h.get("status") == 206]
    expect(len(ranged) == 1, f"no 206 response to the resumed GET: {[h.get('status') for h in response_headers(cmd.err)]}")
    expect_eq("Content-Range", f"bytes 1000000-{len(data) - 1}/{len(data)}", ranged[0]["headers"].get("content-range"))


def t_bounded_range():
    raise Skip("s3cmd get has no option for an arbitrary byte range (offset/length); only get --continue's "
               "open-ended Range: bytes=N- is available, checked separately")


# ------------------------------------------------------------------ copy


def t_cp():
    s3("cp", f"s3://{B}/meta/alpha.txt", f"s3://{B}/copy/alpha copy.txt")
    fields = info(f"s3://{B}/copy/alpha copy.txt")
    expect_eq("copied x-amz-meta-colour", "blue", fields.get("x-amz-meta-colour"))
    expect_eq("copied MIME type", "text/x-cnx", fields.get("MIME type"))
    expect_eq("copied body", ALPHA, s3("get", f"s3://{B}/copy/alpha copy.txt", "-").out)


def t_cp_other_bucket():
    s3("cp", f"s3://{B}/rt/résumé-日本.txt", f"s3://{B2}/x/copy of résumé.txt")
    expect_eq("unicode copy", FIX["résumé-日本.txt"], s3("get", f"s3://{B2}/x/copy of résumé.txt", "-").out)
    s3("cp", f"s3://{B}/rt/big.bin", f"s3://{B2}/x/big.bin")
    expect_eq("big copy md5", md5(FIX["big.bin"]), info(f"s3://{B2}/x/big.bin").get("MD5 sum"))


def t_mv():
    s3("put", os.path.join(FILES, "alpha.txt"), f"s3://{B}/mv/src.txt")
    s3("mv", f"s3://{B}/mv/src.txt", f"s3://{B}/mv/dst.txt")
    expect_eq("mv listing", ["mv/dst.txt"], ls_keys(f"s3://{B}/mv/", bucket=B))
    expect_eq("moved body", ALPHA, s3("get", f"s3://{B}/mv/dst.txt", "-").out)


def t_modify():
    # modify = CopyObject onto itself with the metadata directive REPLACE
    s3("modify", "--add-header", "x-amz-meta-colour:green", "--add-header", "x-amz-meta-extra:yes",
       f"s3://{B}/copy/alpha copy.txt")
    fields = info(f"s3://{B}/copy/alpha copy.txt")
    expect_eq("replaced colour", "green", fields.get("x-amz-meta-colour"))
    expect_eq("added extra", "yes", fields.get("x-amz-meta-extra"))
    expect_eq("kept size", "large", fields.get("x-amz-meta-size"))
    expect_eq("body unchanged", ALPHA, s3("get", f"s3://{B}/copy/alpha copy.txt", "-").out)


# ------------------------------------------------------------------ list


def t_ls_prefix_dirs():
    s3("put", "--recursive", TREE + "/", f"s3://{B}/tree/")
    entries = ls_entries(s3("ls", f"s3://{B}/tree/").stdout, B)
    expect_eq("ls tree/", sorted([("DIR", "tree/a/"), ("DIR", "tree/b/"), ("DIR", "tree/with space/"),
                                  ("4", "tree/top+plus.txt")]), sorted(entries))
    entries = ls_entries(s3("ls", f"s3://{B}/tree/a/").stdout, B)
    expect_eq("ls tree/a/", sorted([("DIR", "tree/a/deep/"), ("3000", "tree/a/f1.bin"), ("6000", "tree/a/f2.bin"),
                                    ("9000", "tree/a/f3.bin")]), sorted(entries))
    # a bare prefix (no trailing '/') matches by prefix
    expect_eq("ls tree/to", ["tree/top+plus.txt"], ls_keys(f"s3://{B}/tree/to", bucket=B))


def t_ls_recursive():
    keys = ls_keys("--recursive", f"s3://{B}/tree/", bucket=B)
    expect_eq("ls -r tree/", sorted(f"tree/{k}" for k in TREE_FILES), sorted(keys))


def t_many():
    s3("mb", f"s3://{LB}")
    procs = [
        subprocess.Popen(["s3cmd", "-c", CFG, "put", "--recursive", os.path.join(MANY, f"g{g}") + "/",
                          f"s3://{LB}/many/"], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for g in range(MANY_GROUPS)
    ]
    errors = [p.communicate(timeout=240)[1].decode(errors="replace") for p in procs]
    bad = [(p.returncode, e[-300:]) for p, e in zip(procs, errors) if p.returncode != 0]
    expect(not bad, f"put --recursive failed: {bad}")
    cmd = s3("ls", "--recursive", "--debug", f"s3://{LB}/")
    keys = [k for _, k in ls_entries(cmd.stdout, LB)]
    expect_eq("1,050 keys", [f"many/{n}" for n in MANY_NAMES], sorted(keys))
    lists = [u for m, u in requests_sent(cmd.err) if m == "GET" and u.startswith(f"/{LB}/")]
    expect(len(lists) == 2 and "marker=" in lists[1], f"expected 2 ListObjects pages (marker), saw {lists}")
    expect_eq("ls --limit 10", 10, len(ls_keys("--recursive", "--limit", "10", f"s3://{LB}/", bucket=LB)))
    du = s3("du", f"s3://{LB}").stdout.split()
    expect_eq("du", [str(sum(len(n) for n in MANY_NAMES)), "1050", "objects"], du[:3])


# ------------------------------------------------------------------ multipart


def t_multipart_put():
    cmd = s3("put", "--debug", "--multipart-chunk-size-mb=5", MP_FILE, f"s3://{B}/mp/mp.bin")
    expect_eq("parts uploaded", [1, 2, 3, 4, 5], parts_sent(cmd.err))
    heads = response_headers(s3("info", "--debug", f"s3://{B}/mp/mp.bin").err)
    etags = [h["headers"].get("etag", "") for h in heads if h.get("status") == 200]
    expect(bool(etags) and re.fullmatch(r'"[0-9a-f]{32}-5"', etags[0]) is not None,
           f"ETag {etags[:1]} is not a 5-part multipart ETag")
    # ls --list-md5 shows the whole-file md5 that s3cmd keeps in x-amz-meta-s3cmd-attrs for multipart objects
    listing = s3("ls", "--list-md5", f"s3://{B}/mp/mp.bin").stdout
    expect(f" {md5(MP_DATA)} " in listing, f"ls --list-md5 of the multipart object: {listing!r}")
    fields = info(f"s3://{B}/mp/mp.bin")
    expect_eq("File size", str(MP_SIZE), fields.get("File size"))
    expect("md5:" + md5(MP_DATA) in fields.get("x-amz-meta-s3cmd-attrs", ""), "s3cmd-attrs lacks the md5")
    local = os.path.join(DOWN, "mp.bin")
    s3("get", "--force", f"s3://{B}/mp/mp.bin", local)
    expect_eq("sha256 of the download", sha(MP_DATA), sha(read(local)))
    os.unlink(local)


def t_multipart_stdin():
    data = os.urandom(12 * MiB)
    cmd = s3("put", "--debug", "--multipart-chunk-size-mb=5", "-", f"s3://{B}/mp/streamed.bin", input=data)
    expect_eq("parts uploaded", [1, 2, 3], parts_sent(cmd.err))
    expect_eq("sha256", sha(data), sha(s3("get", f"s3://{B}/mp/streamed.bin", "-").out))


def t_multipart_listing():
    out = s3("multipart", f"s3://{B}").stdout
    rows = [ln for ln in out.split("\n")[2:] if ln.strip()]
    expect_eq("pending multipart uploads", [], rows)


# ------------------------------------------------------------------ checksums


def t_list_md5():
    listing = s3("ls", "--list-md5", "--recursive", f"s3://{B}/tree/").stdout
    got = {}
    for ln in listing.split("\n"):
        m = re.match(rf"^\S+ \S+\s+\d+\s+([0-9a-f]{{32}})\s+s3://{B}/tree/(.*)$", ln)
        if m:
            got[m.group(2)] = m.group(1)
    expect_eq("ls --list-md5", {k: md5(v) for k, v in TREE_FILES.items()}, got)


def t_sync_md5():
    out = s3("sync", TREE + "/", f"s3://{B}/tree/").stdout
    expect("upload:" not in out, f"sync of an unchanged tree uploaded: {out[-400:]}")
    changed = bytearray(TREE_FILES["a/f2.bin"])
    changed[10] ^= 0xFF
    s3("put", write(os.path.join(WORK, "changed", "f2.bin"), bytes(changed)), f"s3://{B}/tree/a/f2.bin")
    out = s3("sync", TREE + "/", f"s3://{B}/tree/").stdout
    uploads = [ln for ln in out.split("\n") if ln.startswith("upload:")]
    expect(len(uploads) == 1 and "a/f2.bin" in uploads[0], f"sync by md5 should re-upload a/f2.bin: {out[-600:]}")
    down = os.path.join(DOWN, "synced")
    s3("sync", f"s3://{B}/tree/", down + "/")
    for rel, data in TREE_FILES.items():
        expect_eq(f"synced {rel}", sha(data), sha(read(os.path.join(down, rel))))


# ------------------------------------------------------------------ presign

SIGV2_URL_REASON = ("s3cmd 2.3 signurl signs with Signature V2 only (AWSAccessKeyId/Expires/Signature); "
                    "this server is configured without SigV2 (the errors group checks its refusal)")


def t_signurl():
    if not SIGV2:
        raise Skip(SIGV2_URL_REASON)
    url = s3("signurl", f"s3://{B}/rt/big.bin", "+300").stdout.strip()
    expect("Signature=" in url and "Expires=" in url, f"not a presigned URL: {url}")
    status, body = curl(url)
    expect_eq("status", 200, status)
    expect_eq("sha256", sha(FIX["big.bin"]), sha(body))
    url = s3("signurl", f"s3://{B}/rt/my file (1).txt", "+60").stdout.strip()
    expect_eq("spaced key", (200, FIX["my file (1).txt"]), curl(url))
    status, body = curl(s3("signurl", f"s3://{B}/rt/alpha.txt", "+300").stdout.strip()
                        .replace("/rt/alpha.txt?", "/rt/big.bin?"))
    expect(status == 403 and b"SignatureDoesNotMatch" in body,
           f"a URL signed for another key: {status} {body[:200]!r}")


def t_presigned_put():
    raise Skip("s3cmd has no presigned PUT (signurl makes GET URLs only)")


# ------------------------------------------------------------------ errors


def t_wrong_secret():
    cmd = s3("--secret_key=wrong" + SECRET_KEY[5:], "ls", f"s3://{B}", check=False)
    expect(cmd.rc == 77, f"exit status {cmd.rc} is not EX_ACCESSDENIED (77): {cmd.err[-300:]}")
    expect("403 (SignatureDoesNotMatch)" in cmd.err, f"output: {cmd.err[-400:]}")


def t_unknown_access_key():
    cmd = s3("--access_key=CNXNOSUCHKEY00000000", "ls", f"s3://{B}", check=False)
    expect(cmd.rc == 77 and "403 (InvalidAccessKeyId)" in cmd.err, f"output: {cmd.describe()}")


def t_no_such_key():
    # s3cmd looks objects up with HEAD first, so the user sees its rendering of the 404
    cmd = s3("info", f"s3://{B}/no/such/key", check=False)
    expect(cmd.rc == 12 and "404 (NoSuchKey)" in cmd.err, f"info of a missing key: {cmd.describe()}")
    cmd = s3("get", f"s3://{B}/no/such/key", os.path.join(DOWN, "missing"), check=False)
    expect(cmd.rc == 64 and "does not exist" in cmd.err, f"get of a missing key: {cmd.describe()}")
    cmd = s3("cp", f"s3://{B}/no/such/key", f"s3://{B}/no/copy", check=False)
    expect(cmd.rc == 12 and "Key not found" in cmd.err, f"cp of a missing key: {cmd.describe()}")


def t_no_such_bucket():
    missing = bucket_name("s3cmd", "missing")
    cmd = s3("ls", f"s3://{missing}", check=False)
    expect(cmd.rc == 12 and "404 (NoSuchBucket)" in cmd.err, f"ls: {cmd.describe()}")
    cmd = s3("put", os.path.join(FILES, "alpha.txt"), f"s3://{missing}/x.txt", check=False)
    expect(cmd.rc != 0 and "NoSuchBucket" in cmd.err, f"put: {cmd.describe()}")


def t_bucket_not_empty():
    cmd = s3("rb", f"s3://{B}", check=False)
    expect(cmd.rc != 0 and "409 (BucketNotEmpty)" in cmd.err, f"rb: {cmd.describe()}")


def t_bucket_already_owned():
    cmd = s3("mb", f"s3://{B}", check=False)
    expect(cmd.rc != 0 and "409 (BucketAlreadyOwnedByYou)" in cmd.err, f"mb: {cmd.describe()}")


V4_ONLY = "The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256."


SIGV2_ON = "this server is configured to accept Signature V2 (the sigv2 group checks it)"


def t_sigv2_header_refused():
    # S3 regions opened since 2014 (ap-south-1 among them) answer SigV2 with 400 InvalidRequest;
    # s3cmd reads that answer as "Endpoint requires signature v4" and retries with SigV4.
    if SIGV2:
        raise Skip(SIGV2_ON)
    cmd = s3("--signature-v2", "--debug", "ls", f"s3://{B}/rt/", check=False)
    expect(cmd.rc == 0 and "'status': 400" in cmd.err and "Please use AWS4-HMAC-SHA256" in cmd.err
           and "Endpoint requires signature v4" in cmd.err,
           f"expected S3's answer to SigV2 in a SigV4-only region, 400 (InvalidRequest): {V4_ONLY!r}, "
           f"then s3cmd's retry with SigV4; got: {cmd.describe()[-600:]}")


def t_sigv2_url_refused():
    if SIGV2:
        raise Skip(SIGV2_ON)
    url = s3("signurl", f"s3://{B}/rt/alpha.txt", "+300").stdout.strip()
    status, body = curl(url)
    text = body.decode(errors="replace")
    expect(status == 400 and "<Code>InvalidRequest</Code>" in text and "AWS4-HMAC-SHA256" in text,
           f"GET of a SigV2 presigned URL: expected S3's SigV4-only-region answer 400 InvalidRequest "
           f"{V4_ONLY!r}; got {status}: {text[:300]}")


# ------------------------------------------------------------------ Signature V2

SIGV2_OFF = "this server is configured without Signature V2 (the errors group checks its refusal)"


def v2(*args: str, check: bool = True):
    """s3cmd --signature-v2; s3cmd falls back to SigV4 when V2 is refused, so its debug output
    must show that every request went out signed with V2 and none was retried."""
    cmd = s3("--signature-v2", "--debug", *args, check=check)
    if check:
        expect("Using signature v2" in cmd.err and "signature v4" not in cmd.err,
               f"s3cmd did not stay on Signature V2: {cmd.describe()[-600:]}")
    return cmd


def t_sigv2_objects():
    if not SIGV2:
        raise Skip(SIGV2_OFF)
    bucket = V2B
    v2("mb", f"s3://{bucket}")
    src = os.path.join(FILES, "my file (1).txt")
    v2("put", "--mime-type=text/plain", "--add-header=x-amz-meta-client:s3cmd v2", src,
       f"s3://{bucket}/v2/my file (1).txt")
    listed = v2("ls", f"s3://{bucket}/v2/").stdout
    expect("my file (1).txt" in listed, f"ls: {listed}")
    meta = info(f"s3://{bucket}/v2/my file (1).txt", "--signature-v2")
    v2("info", f"s3://{bucket}/v2/my file (1).txt")  # the same, checked to stay on V2
    expect_eq("MIME type", "text/plain", meta.get("MIME type"))
    expect_eq("get", FIX["my file (1).txt"], v2("get", f"s3://{bucket}/v2/my file (1).txt", "-").out)
    v2("cp", f"s3://{bucket}/v2/my file (1).txt", f"s3://{bucket}/v2/copy ü.txt")
    expect_eq("copy", FIX["my file (1).txt"], v2("get", f"s3://{bucket}/v2/copy ü.txt", "-").out)
    v2("del", f"s3://{bucket}/v2/copy ü.txt")
    expect("copy" not in v2("ls", f"s3://{bucket}/v2/").stdout, "del left the copy")


def t_sigv2_multipart():
    if not SIGV2:
        raise Skip(SIGV2_OFF)
    bucket = V2B
    data = os.urandom(12 * MiB)
    path = os.path.join(WORK, "v2-multipart.bin")
    write(path, data)
    cmd = v2("put", "--multipart-chunk-size-mb=5", path, f"s3://{bucket}/v2/mp.bin")
    expect_eq("parts uploaded", [1, 2, 3], parts_sent(cmd.err))
    expect_eq("sha256", sha(data), sha(v2("get", f"s3://{bucket}/v2/mp.bin", "-").out))
    v2("del", "--recursive", "--force", f"s3://{bucket}")
    v2("rb", f"s3://{bucket}")


def t_sigv2_wrong_secret():
    if not SIGV2:
        raise Skip(SIGV2_OFF)
    cmd = v2("--secret_key=wrong" + SECRET_KEY[5:], "ls", f"s3://{B}", check=False)
    expect(cmd.rc == 77 and "403 (SignatureDoesNotMatch)" in cmd.err, f"output: {cmd.describe()}")
    # Refused V2 would make s3cmd retry with SigV4 and fail the same way: it must not have.
    expect("Using signature v2" in cmd.err and "signature v4" not in cmd.err,
           f"s3cmd did not stay on Signature V2: {cmd.describe()[-600:]}")


# ------------------------------------------------------------------ hard keys

S3CMD_CANNOT = {
    "trailing-slash": "s3cmd reads an S3 URI ending in '/' as a folder: put appends the local file name "
                      "('folder-marker/<file>') and get refuses ('Expecting S3 URI with a filename')",
    "tab-newline-cr": "s3cmd's S3 URI parser ('^s3:///*([^/]*)/?(.*)' without DOTALL) cuts the key at the "
                      "newline: the object is stored as 'ctl\\ttab'",
}


def hard_keys(suite: Suite):
    keys = load_hard_keys()
    failures: dict[str, list[str]] = {k["name"]: [] for k in keys}
    todo = [k for k in keys if k["name"] not in S3CMD_CANNOT]

    def attempt(name: str, what: str, fn):
        if failures[name]:
            return
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            failures[name].append(f"{what}: {exc}")

    def fail_all(what: str, exc: Exception):
        for k in todo:
            if not failures[k["name"]]:
                failures[k["name"]].append(f"{what}: {exc}")

    try:
        s3("mb", f"s3://{HB}")
        s3("mb", f"s3://{HB2}")
    except Exception as exc:  # noqa: BLE001
        fail_all("mb of the hard-key buckets", exc)

    for k in todo:
        name, key = k["name"], k["key"]
        src = write(os.path.join(WORK, "hard", name), f"hard key {name}\n".encode())
        attempt(name, "put", lambda: s3("put", src, f"s3://{HB}/{key}"))

    def listed(bucket: str) -> set[str]:
        return {key for _, key in ls_entries(s3("ls", "--recursive", f"s3://{bucket}").stdout, bucket)}

    try:
        present = listed(HB)
        for k in todo:
            attempt(k["name"], "list (ls --recursive)",
                    lambda k=k: expect(k["key"] in present, "not in the listing"))
    except Exception as exc:  # noqa: BLE001
        fail_all("list", exc)

    for k in todo:
        name, key = k["name"], k["key"]
        data = f"hard key {name}\n".encode()
        uri = f"s3://{HB}/{key}"

        def get():
            expect_eq("get", data, s3("get", uri, "-").out)

        def head():
            expect_eq("info File size", str(len(data)), info(uri).get("File size"))

        def copy():
            s3("cp", uri, f"s3://{HB2}/{key}")
            expect_eq("copy body", data, s3("get", f"s3://{HB2}/{key}", "-").out)

        def presign():
            if not SIGV2:
                return  # signurl is SigV2-only and this server refuses SigV2 (the errors group checks it)
            url = s3("signurl", uri, "+300").stdout.strip()
            expect_eq("key in the URL", f"/{HB}/{key}", urllib.parse.unquote(urllib.parse.urlsplit(url).path))
            expect_eq("presigned GET", (200, data), curl(url, "--path-as-is"))

        def delete():
            s3("del", uri)

        attempt(name, "get", get)
        attempt(name, "info (HEAD)", head)
        attempt(name, "cp (server-side copy)", copy)
        attempt(name, "signurl + curl", presign)
        attempt(name, "del", delete)

    try:
        copies = listed(HB2)
        for k in todo:
            attempt(k["name"], "list of the copies", lambda k=k: expect(k["key"] in copies, "copy not listed"))
        # the copies go in DeleteObjects batches
        s3("del", "--recursive", "--force", f"s3://{HB2}/")
        left = listed(HB) | listed(HB2)
        for k in todo:
            attempt(k["name"], "del", lambda k=k: expect(k["key"] not in left, "still listed after del"))
    except Exception as exc:  # noqa: BLE001
        fail_all("list after del", exc)

    for k in keys:
        name = k["name"]

        def report(name=name):
            if name in S3CMD_CANNOT:
                raise Skip(S3CMD_CANNOT[name])
            if failures[name]:
                raise CheckFailed("; ".join(failures[name]))

        suite.check("hard keys", f"hard key {name}", report)


# ------------------------------------------------------------------ main


def main() -> int:
    suite = Suite("s3cmd", s3cmd_version())
    try:
        c = suite.check
        c("buckets", "mb, ls lists the bucket, info shows its Location", t_mb_ls_info)
        c("buckets", "rb of an empty bucket", t_rb_empty)
        c("objects", "put/get round trip: sha256 (empty, 1 KiB, 5 MiB, spaces, unicode), ls sizes", t_put_get)
        c("objects", "put from stdin, get to stdout", t_stdin_stdout)
        c("objects", "info: size, MD5, Last mod", t_info)
        c("objects", "metadata: --mime-type, --add-header x-amz-meta-*, Cache-Control, Content-Disposition",
          t_metadata)
        c("objects", "del", t_del)
        c("conditional/range", "get --continue resumes with Range: bytes=N- (206, Content-Range)",
          t_get_continue_range)
        c("conditional/range", "get of a bounded byte range", t_bounded_range)
        c("copy", "cp within the bucket keeps metadata and MIME type", t_cp)
        c("copy", "cp to another bucket (unicode key, 5 MiB)", t_cp_other_bucket)
        c("copy", "mv", t_mv)
        c("copy", "modify --add-header (CopyObject onto itself, metadata REPLACE)", t_modify)
        c("list", "ls with prefix: DIR entries and files (delimiter), bare prefix", t_ls_prefix_dirs)
        c("list", "ls --recursive", t_ls_recursive)
        c("list", "put --recursive of 1,050 files; ls --recursive pages past 1,000 (marker); --limit; du", t_many)
        c("multipart", "put --multipart-chunk-size-mb=5 of 20 MiB (5 parts, -5 ETag, sha256)", t_multipart_put)
        c("multipart", "put of 12 MiB from stdin in 5 MiB parts", t_multipart_stdin)
        c("multipart", "multipart: no pending upload left", t_multipart_listing)
        c("checksums", "ls --list-md5 matches local md5", t_list_md5)
        c("checksums", "sync compares md5: unchanged tree uploads nothing, same-size change re-uploaded", t_sync_md5)
        c("auth/presign", "signurl presigned GET fetched with curl", t_signurl)
        c("auth/presign", "presigned PUT", t_presigned_put)
        c("errors", "wrong secret: 403 (SignatureDoesNotMatch), exit 77", t_wrong_secret)
        c("errors", "unknown access key: 403 (InvalidAccessKeyId)", t_unknown_access_key)
        c("errors", "missing key: info 404 (NoSuchKey), get 'does not exist', cp 'Key not found'", t_no_such_key)
        c("errors", "missing bucket: ls 404 (NoSuchBucket), put fails", t_no_such_bucket)
        c("errors", "rb of a non-empty bucket: 409 (BucketNotEmpty)", t_bucket_not_empty)
        c("errors", "mb of an owned bucket: 409 (BucketAlreadyOwnedByYou)", t_bucket_already_owned)
        c("errors", "SigV2 request (--signature-v2) refused as by S3's SigV4-only regions: 400 InvalidRequest",
          t_sigv2_header_refused)
        c("errors", "SigV2 presigned URL (signurl) refused as by S3's SigV4-only regions: 400 InvalidRequest",
          t_sigv2_url_refused)
        c("sigv2", "--signature-v2: mb, put with MIME type and metadata, ls, info, get, cp (unicode), del",
          t_sigv2_objects)
        c("sigv2", "--signature-v2: multipart put of 12 MiB in 5 MiB parts, get, del --recursive, rb",
          t_sigv2_multipart)
        c("sigv2", "--signature-v2 with a wrong secret: 403 (SignatureDoesNotMatch)", t_sigv2_wrong_secret)
        c("objects", "del --recursive of 1,050 keys in DeleteObjects batches, rb", t_del_recursive_batch)
        try:
            hard_keys(suite)
        except Exception as exc:  # noqa: BLE001 - recorded, never fatal
            def crashed(exc=exc):
                raise CheckFailed(f"hard-key round trip crashed: {exc!r}")

            suite.check("hard keys", "hard keys (setup)", crashed)
    finally:
        for bucket in ALL_BUCKETS:
            s3("rb", "--recursive", "--force", f"s3://{bucket}", check=False)
    return suite.finish()


if __name__ == "__main__":
    raise SystemExit(main())
