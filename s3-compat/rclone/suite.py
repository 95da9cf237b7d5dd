"""rclone client suite for cnx-storage (started by ./run; env in s3-compat/SUITES.md).

Drives the rclone CLI against an on-the-fly remote "cnx:" defined only through
RCLONE_CONFIG_CNX_* variables (type s3, provider Other, path style, region, endpoint),
with --ca-cert for https, in rclone's own idiom (mkdir/lsd/rmdir, copyto/cat/lsjson,
cat --offset/--count, server-side copyto, lsf, link, check, purge, ...).
"""

from __future__ import annotations

import pathlib
import sys

import hashlib
import json
import os
import re
import time
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "clisuite"))
from harness import (  # noqa: E402
    CA_BUNDLE,
    ENDPOINT,
    INSECURE,
    IS_HTTPS,
    REGION,
    SECRET_KEY,
    ACCESS_KEY,
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

# ------------------------------------------------------------------ rclone plumbing

CONF = os.path.join(WORK, "rclone.conf")
open(CONF, "w").close()  # an empty config file: the remote lives only in the environment


def remote_env(**override: str) -> dict:
    env = {
        "RCLONE_CONFIG": CONF,
        "RCLONE_CONFIG_CNX_TYPE": "s3",
        "RCLONE_CONFIG_CNX_PROVIDER": "Other",
        "RCLONE_CONFIG_CNX_ENV_AUTH": "false",
        "RCLONE_CONFIG_CNX_ACCESS_KEY_ID": ACCESS_KEY,
        "RCLONE_CONFIG_CNX_SECRET_ACCESS_KEY": SECRET_KEY,
        "RCLONE_CONFIG_CNX_ENDPOINT": ENDPOINT,
        "RCLONE_CONFIG_CNX_REGION": REGION,
        "RCLONE_CONFIG_CNX_LOCATION_CONSTRAINT": REGION,
        "RCLONE_CONFIG_CNX_FORCE_PATH_STYLE": "true",
        "XDG_CACHE_HOME": os.path.join(WORK, "cache"),
    }
    env.update(override)
    # AWS_CA_BUNDLE and friends in the caller's environment would reach the AWS SDK inside rclone
    return clean_env(**env)


ENV = remote_env()
BASE = ["rclone", "--retries", "1", "--low-level-retries", "2", "--contimeout", "10s", "--timeout", "60s"]
if IS_HTTPS:
    BASE += ["--no-check-certificate"] if INSECURE else (["--ca-cert", CA_BUNDLE] if CA_BUNDLE else [])


def rc(*args, env=None, check=True, input=None, timeout=300):
    return run(BASE + list(args), env=env or ENV, check=check, input=input, timeout=timeout)


def rversion() -> str:
    out = run(["rclone", "version"], env=ENV).stdout
    return out.split()[1] if out.split()[:1] == ["rclone"] else out.splitlines()[0]


def lsjson(path: str, *flags: str) -> list[dict]:
    return json.loads(rc("lsjson", *flags, path).out or b"[]")


def lines(cmd) -> list[str]:
    return [ln for ln in cmd.stdout.split("\n") if ln]


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


def count_requests(err: str, method: str, path_prefix: str) -> int:
    """Requests in rclone's --dump headers output: 'DEBUG : GET /bucket?...' lines."""
    return len(re.findall(rf"DEBUG : {method} {re.escape(path_prefix)}[^ ]* HTTP/", err))


# ------------------------------------------------------------------ fixtures

B = bucket_name("rclone")  # most checks
B2 = bucket_name("rclone", "other")  # cross-bucket copy
LB = bucket_name("rclone", "list")  # 1,050 objects, then purge
HB = bucket_name("rclone", "keys")  # hard keys
HB2 = bucket_name("rclone", "keys-copy")
TMPB = bucket_name("rclone", "tmp")
VB = bucket_name("rclone", "ver")  # versioned
ALL_BUCKETS = [B, B2, LB, HB, HB2, TMPB, VB]

FILES = os.path.join(WORK, "files")
DOWN = os.path.join(WORK, "down")
os.makedirs(DOWN, exist_ok=True)
ALPHA = b"0123456789abcdefghijklmnopqrstuvwxyz"
FIX = {
    "small.bin": os.urandom(1024),
    "big.bin": os.urandom(5 * MiB + 7),
    "empty.txt": b"",
    "my file (1).txt": b"hello from rclone\n",
    "résumé-日本.txt": b"unicode name\n",
    "alpha.txt": ALPHA,
}
for _name, _data in FIX.items():
    write(os.path.join(FILES, _name), _data)
MP_SIZE = 30 * MiB + 12345  # 5 MiB chunks: 6 full parts and a short 7th
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
for _name in MANY_NAMES:
    write(os.path.join(MANY, _name), _name.encode())

# ------------------------------------------------------------------ buckets


def t_versions():
    rc("mkdir", f"cnx:{VB}")
    state = lambda *arg: rc("backend", "versioning", f"cnx:{VB}", *arg).out.decode().strip()  # noqa: E731
    expect_eq("versioning of a new bucket", "unversioned", state().lower())
    expect_eq("versioning enabled", "Enabled", state("Enabled"))
    old, new = os.path.join(WORK, "ver-old.txt"), os.path.join(WORK, "ver-new.txt")
    write(old, b"old contents\n")
    write(new, b"new contents!\n")
    rc("copyto", old, f"cnx:{VB}/doc.txt")
    time.sleep(1.1)  # rclone names versions by their second
    rc("copyto", new, f"cnx:{VB}/doc.txt")
    expect_eq("current listing", ["doc.txt"], lines(rc("lsf", f"cnx:{VB}")))
    with_versions = lines(rc("lsf", "--s3-versions", f"cnx:{VB}"))
    expect_eq("listing with --s3-versions", 2, len(with_versions))
    older = [n for n in with_versions if n != "doc.txt"]
    expect(len(older) == 1 and re.fullmatch(r"doc-v\d{4}-\d{2}-\d{2}-\d{6}-\d{3}\.txt", older[0]),
           f"no version entry in {with_versions}")
    expect_eq("old version's contents", b"old contents\n",
              rc("cat", "--s3-versions", f"cnx:{VB}/{older[0]}").out)
    # A deleted file's versions remain; cleanup-hidden removes what only versions keep.
    rc("deletefile", f"cnx:{VB}/doc.txt")
    expect_eq("after delete", [], lines(rc("lsf", f"cnx:{VB}")))
    expect_eq("versions after delete", 2, len(lines(rc("lsf", "--s3-versions", f"cnx:{VB}"))))
    rc("backend", "cleanup-hidden", f"cnx:{VB}")
    expect_eq("versions after cleanup-hidden", [], lines(rc("lsf", "--s3-versions", f"cnx:{VB}")))
    rc("rmdir", f"cnx:{VB}")


def t_mkdir_lsd():
    rc("mkdir", f"cnx:{B}")
    names = [ln.split()[-1] for ln in lines(rc("lsd", "cnx:"))]
    expect(B in names, f"lsd cnx: does not list {B}: {names}")


def t_mkdir_existing():
    # CreateBucket on a bucket one already owns: BucketAlreadyOwnedByYou, which rclone accepts
    rc("mkdir", f"cnx:{B}")
    rc("mkdir", f"cnx:{B2}")


def t_rmdir():
    rc("mkdir", f"cnx:{TMPB}")
    expect(TMPB in [ln.split()[-1] for ln in lines(rc("lsd", "cnx:"))], "new bucket not listed")
    rc("rmdir", f"cnx:{TMPB}")
    names = [ln.split()[-1] for ln in lines(rc("lsd", "cnx:"))]
    expect(TMPB not in names, f"{TMPB} still listed after rmdir")
    expect(rc("lsf", f"cnx:{TMPB}", check=False).rc != 0, "lsf of the removed bucket succeeded")


# ------------------------------------------------------------------ objects


def t_copyto_cat():
    for name, data in FIX.items():
        rc("copyto", os.path.join(FILES, name), f"cnx:{B}/rt/{name}")
        local = os.path.join(DOWN, "rt-" + name)
        rc("copyto", f"cnx:{B}/rt/{name}", local)
        expect_eq(f"sha256 of {name} via copyto", sha(data), sha(read(local)))
        expect_eq(f"sha256 of {name} via cat", sha(data), sha(rc("cat", f"cnx:{B}/rt/{name}").out))
    listed = sorted(e["Name"] for e in lsjson(f"cnx:{B}/rt/", "--files-only"))
    expect_eq("listing of rt/", sorted(FIX), listed)


def t_rcat_stdin():
    payload = b"streamed through stdin\n" * 3
    rc("rcat", f"cnx:{B}/stream/stdin.txt", input=payload)
    expect_eq("cat", payload, rc("cat", f"cnx:{B}/stream/stdin.txt").out)


MTIME = "2020-02-03T04:05:06.789"


def t_lsjson_size_mtime_md5():
    path = write(os.path.join(WORK, "meta", "m.txt"), b"hello rclone metadata\n")
    stamp = time.mktime(time.strptime("2020-02-03 04:05:06", "%Y-%m-%d %H:%M:%S")) - time.timezone
    os.utime(path, (stamp + 0.789, stamp + 0.789))
    rc("copyto", path, f"cnx:{B}/meta/plain.txt")
    [entry] = lsjson(f"cnx:{B}/meta/plain.txt", "--hash")
    expect_eq("Size", 22, entry["Size"])
    expect(entry["ModTime"].startswith(MTIME), f"ModTime {entry['ModTime']} is not the file's mtime {MTIME}")
    expect_eq("md5", md5(read(path)), entry.get("Hashes", {}).get("md5"))
    expect_eq("IsDir", False, entry["IsDir"])


def t_metadata():
    path = os.path.join(WORK, "meta", "m.txt")
    rc("copyto", "-M", "--metadata-set", "colour=blue", "--metadata-set", "content-type=text/x-cnx",
       "--metadata-set", "cache-control=max-age=60",
       "--metadata-set", 'content-disposition=attachment; filename="m.txt"',
       path, f"cnx:{B}/meta/m.txt")
    [entry] = lsjson(f"cnx:{B}/meta/m.txt", "-M")
    meta = entry.get("Metadata") or {}
    expect_eq("MimeType", "text/x-cnx", entry.get("MimeType"))
    for k, v in {"colour": "blue", "content-type": "text/x-cnx", "cache-control": "max-age=60",
                 "content-disposition": 'attachment; filename="m.txt"'}.items():
        expect_eq(f"metadata {k}", v, meta.get(k))
    expect(meta.get("mtime", "").startswith(MTIME), f"mtime metadata {meta.get('mtime')}")
    # the same metadata as plain HTTP headers of a presigned GET
    url = rc("link", "--expire", "5m", f"cnx:{B}/meta/m.txt").stdout.strip()
    hdr = os.path.join(WORK, "meta-headers.txt")
    status, _ = curl(url, "-D", hdr)
    expect_eq("GET status", 200, status)
    headers = read(hdr).decode("latin-1").lower()
    for h in ("content-type: text/x-cnx", "cache-control: max-age=60", "x-amz-meta-colour: blue",
              'content-disposition: attachment; filename="m.txt"'):
        expect(h in headers, f"response lacks '{h}': {headers!r}")


def t_deletefile():
    rc("copyto", os.path.join(FILES, "alpha.txt"), f"cnx:{B}/del/one.txt")
    expect_eq("listed before", ["one.txt"], [e["Name"] for e in lsjson(f"cnx:{B}/del/")])
    rc("deletefile", f"cnx:{B}/del/one.txt")
    expect_eq("listed after", [], lsjson(f"cnx:{B}/del/"))
    gone = rc("link", f"cnx:{B}/del/one.txt", check=False)
    expect(gone.rc != 0 and "not found" in gone.err, f"deleted object still found: {gone.describe()}")


def t_delete_many_and_purge():
    # LB holds the 1,050 objects of the list checks; rclone 1.60 deletes one DELETE per object
    cmd = rc("delete", "--checkers", "16", "--include", "f0[0-4]*", f"cnx:{LB}/many", "-v")
    expect_eq("deleted by filter", 500, cmd.err.count(": Deleted"))
    left = lines(rc("lsf", "--files-only", f"cnx:{LB}/many"))
    expect_eq("left after delete", MANY_NAMES[500:], sorted(left))
    rc("purge", "--checkers", "16", f"cnx:{LB}")
    names = [ln.split()[-1] for ln in lines(rc("lsd", "cnx:"))]
    expect(LB not in names, "purged bucket still listed")


# ------------------------------------------------------------------ range


def t_cat_ranges():
    obj = f"cnx:{B}/rt/alpha.txt"
    cases = [
        (("--offset", "10", "--count", "10"), b"abcdefghij"),
        (("--offset", "30"), b"uvwxyz"),
        (("--offset", "-6"), b"uvwxyz"),
        (("--head", "4"), b"0123"),
        (("--tail", "5"), b"vwxyz"),
        (("--offset", "35", "--count", "10"), b"z"),
    ]
    for flags, want in cases:
        expect_eq(f"cat {' '.join(flags)}", want, rc("cat", *flags, obj).out)
    # the range reaches the server as a Range header
    cmd = rc("cat", "--offset", "10", "--count", "10", "--dump", "headers", obj)
    expect(re.search(r"(?im)^Range: bytes=10-19\s*$", cmd.err) is not None, "no 'Range: bytes=10-19' sent")
    expect("206 Partial Content" in cmd.err, "no 206 Partial Content in the response")


def t_cat_range_big():
    data = FIX["big.bin"]
    off = 5 * MiB - 3
    got = rc("cat", "--offset", str(off), "--count", "10", f"cnx:{B}/rt/big.bin").out
    expect_eq("slice across 5 MiB", data[off:off + 10], got)
    expect_eq("tail 100", data[-100:], rc("cat", "--tail", "100", f"cnx:{B}/rt/big.bin").out)


# ------------------------------------------------------------------ copy


def t_copyto_server_side():
    cmd = rc("copyto", "-M", "-v", f"cnx:{B}/meta/m.txt", f"cnx:{B}/copy/m copy.txt")
    expect("server-side copy" in cmd.err, f"not a server-side copy: {cmd.err[-500:]}")
    [src] = lsjson(f"cnx:{B}/meta/m.txt", "-M", "--hash")
    [dst] = lsjson(f"cnx:{B}/copy/m copy.txt", "-M", "--hash")
    expect_eq("md5", src["Hashes"]["md5"], dst["Hashes"]["md5"])
    expect_eq("size", src["Size"], dst["Size"])
    for k in ("colour", "content-type", "cache-control", "content-disposition", "mtime"):
        expect_eq(f"copied metadata {k}", src["Metadata"].get(k), dst["Metadata"].get(k))
    expect_eq("body", rc("cat", f"cnx:{B}/meta/m.txt").out, rc("cat", f"cnx:{B}/copy/m copy.txt").out)


def t_copyto_other_bucket():
    cmd = rc("copyto", "-v", f"cnx:{B}/rt/big.bin", f"cnx:{B2}/x/big copy.bin")
    expect("server-side copy" in cmd.err, f"not a server-side copy: {cmd.err[-500:]}")
    expect_eq("sha256", sha(FIX["big.bin"]), sha(rc("cat", f"cnx:{B2}/x/big copy.bin").out))
    cmd = rc("copyto", "-v", f"cnx:{B}/rt/résumé-日本.txt", f"cnx:{B2}/x/copy of résumé.txt")
    expect("server-side copy" in cmd.err, "unicode source not copied server-side")
    expect_eq("unicode copy", FIX["résumé-日本.txt"], rc("cat", f"cnx:{B2}/x/copy of résumé.txt").out)


def t_moveto():
    rc("copyto", os.path.join(FILES, "alpha.txt"), f"cnx:{B}/mv/src.txt")
    cmd = rc("moveto", "-v", f"cnx:{B}/mv/src.txt", f"cnx:{B}/mv/dst.txt")
    expect("server-side" in cmd.err, f"moveto was not server-side: {cmd.err[-500:]}")
    expect_eq("mv listing", ["dst.txt"], lines(rc("lsf", f"cnx:{B}/mv/")))
    expect_eq("moved body", ALPHA, rc("cat", f"cnx:{B}/mv/dst.txt").out)


# ------------------------------------------------------------------ list


def t_lsf_dirs():
    rc("copy", TREE, f"cnx:{B}/tree")
    expect_eq("lsf tree/", ["a/", "b/", "top+plus.txt", "with space/"], sorted(lines(rc("lsf", f"cnx:{B}/tree/"))))
    expect_eq("lsf tree/a/", ["deep/", "f1.bin", "f2.bin", "f3.bin"], sorted(lines(rc("lsf", f"cnx:{B}/tree/a/"))))
    expect_eq("lsf tree/with space/", ["i j.txt"], lines(rc("lsf", f"cnx:{B}/tree/with space")))
    # the listing is one delimiter=/ request with the prefix
    cmd = rc("lsf", "--dump", "headers", f"cnx:{B}/tree/a/")
    expect(re.search(r"GET /[^ ]*delimiter=%2F[^ ]*prefix=tree%2Fa%2F", cmd.err) is not None,
           "no ListObjects request with delimiter=/ and prefix=tree/a/ seen")


def t_lsf_recursive():
    files = sorted(lines(rc("lsf", "-R", "--files-only", f"cnx:{B}/tree")))
    expect_eq("lsf -R --files-only", sorted(TREE_FILES), files)
    dirs = sorted(lines(rc("lsf", "-R", "--dirs-only", f"cnx:{B}/tree")))
    expect_eq("lsf -R --dirs-only", ["a/", "a/deep/", "b/", "with space/"], dirs)
    entries = {e["Path"]: e["Size"] for e in lsjson(f"cnx:{B}/tree", "-R", "--files-only")}
    expect_eq("sizes", {k: len(v) for k, v in TREE_FILES.items()}, entries)


def t_many_upload_list():
    cmd = rc("mkdir", f"cnx:{LB}")
    cmd = rc("copy", "--transfers", "16", "--checkers", "16", MANY, f"cnx:{LB}/many", timeout=240)
    cmd = rc("lsf", "--files-only", "--dump", "headers", f"cnx:{LB}/many")
    expect_eq("1,050 names", MANY_NAMES, sorted(lines(cmd)))
    n = count_requests(cmd.err, "GET", f"/{LB}?")
    expect(n == 2, f"expected 2 ListObjectsV2 pages of up to 1,000 keys, saw {n} requests")
    size = json.loads(rc("size", "--json", f"cnx:{LB}").out)
    expect_eq("size --json", {"count": 1050, "bytes": sum(len(n) for n in MANY_NAMES)},
              {"count": size["count"], "bytes": size["bytes"]})


def t_many_small_pages_v1_v2():
    for version in ("1", "2"):
        cmd = rc("lsf", "--files-only", "--s3-list-version", version, "--s3-list-chunk", "100",
                 "--dump", "headers", f"cnx:{LB}/many")
        expect_eq(f"ListObjects v{version} names", MANY_NAMES, sorted(lines(cmd)))
        n = count_requests(cmd.err, "GET", f"/{LB}?")
        expect(n == 11, f"v{version}: expected 11 pages of 100, saw {n} requests")


def t_many_url_encode():
    plain = lines(rc("lsf", "--files-only", "--s3-list-url-encode", "false", f"cnx:{LB}/many"))
    encoded = rc("lsf", "--files-only", "--s3-list-url-encode", "true", "--dump", "headers", f"cnx:{LB}/many")
    expect("encoding-type=url" in encoded.err, "no encoding-type=url in the list request")
    expect_eq("encoding-type=url listing", sorted(plain), sorted(lines(encoded)))
    expect_eq("count", 1050, len(plain))


# ------------------------------------------------------------------ multipart

MP_FLAGS = ["--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M"]


def etag_of(path: str) -> str:
    url = rc("link", "--expire", "5m", path).stdout.strip()
    hdr = os.path.join(WORK, "etag-headers.txt")
    status, _ = curl(url, "-r", "0-0", "-D", hdr)
    expect_eq("ranged GET status", 206, status)
    m = re.search(r'(?im)^etag:\s*(\S+)\s*$', read(hdr).decode("latin-1"))
    expect(m is not None, "no ETag header")
    return m.group(1)


def t_multipart_upload():
    cmd = rc("copyto", "-vv", *MP_FLAGS, MP_FILE, f"cnx:{B}/mp/mp.bin")
    expect("multipart upload starting chunk 7 " in cmd.err, "the upload did not go multipart with 7 chunks")
    expect("multipart upload starting chunk 8 " not in cmd.err, "more than 7 chunks")
    [entry] = lsjson(f"cnx:{B}/mp/mp.bin", "--hash")
    expect_eq("size", MP_SIZE, entry["Size"])
    expect_eq("md5 (x-amz-meta-md5chksum)", md5(MP_DATA), entry.get("Hashes", {}).get("md5"))
    etag = etag_of(f"cnx:{B}/mp/mp.bin")
    expect(re.fullmatch(r'"[0-9a-f]{32}-7"', etag) is not None, f"ETag {etag} is not a 7-part multipart ETag")
    local = os.path.join(DOWN, "mp.bin")
    rc("copyto", f"cnx:{B}/mp/mp.bin", local)
    expect_eq("sha256 of the download", sha(MP_DATA), sha(read(local)))


def t_multipart_no_leftovers():
    out = json.loads(rc("backend", "list-multipart-uploads", f"cnx:{B}").out)
    expect_eq("pending uploads", {B: []}, {k: v or [] for k, v in out.items()})


def t_multipart_rcat_stream():
    data = os.urandom(12 * MiB)
    cmd = rc("rcat", "-vv", "--s3-chunk-size", "5M", f"cnx:{B}/mp/streamed.bin", input=data)
    expect("multipart upload starting chunk 3 " in cmd.err, "streamed upload was not 3 multipart chunks")
    expect_eq("sha256 of the streamed object", sha(data), sha(rc("cat", f"cnx:{B}/mp/streamed.bin").out))


def t_multipart_copy():
    cmd = rc("copyto", "-vv", "--s3-copy-cutoff", "5M", f"cnx:{B}/mp/mp.bin", f"cnx:{B}/mp/mp copy.bin")
    expect("multipart copy with 7 parts" in cmd.err, f"not a 7-part multipart copy: {cmd.err[-600:]}")
    expect("server-side copy" in cmd.err, "not server-side")
    etag = etag_of(f"cnx:{B}/mp/mp copy.bin")
    expect(re.fullmatch(r'"[0-9a-f]{32}-7"', etag) is not None, f"copy ETag {etag} is not a 7-part ETag")
    local = os.path.join(DOWN, "mp-copy.bin")
    rc("copyto", f"cnx:{B}/mp/mp copy.bin", local)
    expect_eq("sha256 of the copy", sha(MP_DATA), sha(read(local)))
    os.unlink(local)


# ------------------------------------------------------------------ checksums


def t_md5sum():
    got = {}
    for ln in lines(rc("md5sum", f"cnx:{B}/tree")):
        digest, path = ln.split("  ", 1)
        got[path] = digest
    expect_eq("md5sum", {k: md5(v) for k, v in TREE_FILES.items()}, got)


def t_check():
    cmd = rc("check", "--one-way", TREE, f"cnx:{B}/tree")
    expect("0 differences found" in cmd.err, f"check: {cmd.err[-400:]}")
    # same size, different content: only a hash comparison notices
    changed = bytearray(TREE_FILES["a/f2.bin"])
    changed[100] ^= 0xFF
    rc("rcat", f"cnx:{B}/tree/a/f2.bin", input=bytes(changed))
    cmd = rc("check", TREE, f"cnx:{B}/tree", check=False)
    expect(cmd.rc != 0, "check did not fail on a changed object")
    expect("1 differences found" in cmd.err and "a/f2.bin" in cmd.err, f"check output: {cmd.err[-600:]}")
    sized = rc("check", "--size-only", TREE, f"cnx:{B}/tree")
    expect("0 differences found" in sized.err, "--size-only saw a difference")
    # copy --checksum repairs exactly that object, and a second run transfers nothing
    cmd = rc("copy", "--checksum", "-v", TREE, f"cnx:{B}/tree")
    expect_eq("objects re-uploaded by copy --checksum", 1, cmd.err.count(": Copied ("))
    expect("a/f2.bin: Copied (replaced existing)" in cmd.err, f"copy --checksum: {cmd.err[-600:]}")
    cmd = rc("copy", "--checksum", "-v", TREE, f"cnx:{B}/tree")
    expect_eq("objects uploaded by a second copy --checksum", 0, cmd.err.count(": Copied ("))
    cmd = rc("check", "--download", TREE, f"cnx:{B}/tree")
    expect("0 differences found" in cmd.err, f"check --download: {cmd.err[-400:]}")


def t_hashsum_multipart_and_copy():
    # single-part objects: md5 is the ETag; multipart: rclone's X-Amz-Meta-Md5chksum
    sums = dict(reversed(ln.split("  ", 1)) for ln in lines(rc("md5sum", f"cnx:{B}/mp")))
    expect_eq("md5 of mp.bin", md5(MP_DATA), sums.get("mp.bin"))
    expect_eq("md5 of the multipart copy", md5(MP_DATA), sums.get("mp copy.bin"))


# ------------------------------------------------------------------ presign


def t_link_get():
    url = rc("link", "--expire", "5m", f"cnx:{B}/rt/big.bin").stdout.strip()
    expect("X-Amz-Signature=" in url and "X-Amz-Expires=300" in url, f"not a SigV4 presigned URL: {url}")
    status, body = curl(url)
    expect_eq("status", 200, status)
    expect_eq("sha256", sha(FIX["big.bin"]), sha(body))
    url = rc("link", f"cnx:{B}/rt/my file (1).txt").stdout.strip()
    status, body = curl(url)
    expect_eq("spaced key", (200, FIX["my file (1).txt"]), (status, body))


def t_link_expired_and_tampered():
    good = rc("link", "--expire", "5m", f"cnx:{B}/rt/alpha.txt").stdout.strip()
    tampered = re.sub(r"(X-Amz-Signature=[0-9a-f]*)([0-9a-f])",
                      lambda m: m.group(1) + ("0" if m.group(2) != "0" else "1"), good)
    expect(tampered != good, "could not tamper with the signature")
    status, body = curl(tampered)
    expect_eq("tampered signature status", 403, status)
    expect(b"SignatureDoesNotMatch" in body, f"tampered body: {body[:300]!r}")
    url = rc("link", "--expire", "1s", f"cnx:{B}/rt/alpha.txt").stdout.strip()
    time.sleep(2.2)
    status, body = curl(url)
    expect_eq("expired URL status", 403, status)
    expect(b"AccessDenied" in body, f"expired body: {body[:300]!r}")


def t_presigned_put():
    # --s3-use-presigned-request: rclone presigns the PutObject and uploads through the URL
    cmd = rc("copyto", "--s3-use-presigned-request", "--dump", "headers", os.path.join(FILES, "small.bin"),
             f"cnx:{B}/presigned/put.bin")
    expect(re.search(rf"DEBUG : PUT /{B}/presigned/put\.bin\?[^ ]*X-Amz-Signature=", cmd.err) is not None,
           "the PUT did not go through a presigned URL")
    expect_eq("presigned PUT body", FIX["small.bin"], rc("cat", f"cnx:{B}/presigned/put.bin").out)
    [entry] = lsjson(f"cnx:{B}/presigned/put.bin", "--hash")
    expect_eq("md5", md5(FIX["small.bin"]), entry["Hashes"]["md5"])


# ------------------------------------------------------------------ errors


def t_wrong_secret():
    env = remote_env(RCLONE_CONFIG_CNX_SECRET_ACCESS_KEY="wrong" + SECRET_KEY[5:])
    cmd = rc("lsf", f"cnx:{B}", env=env, check=False)
    expect(cmd.rc != 0, "listing with a wrong secret succeeded")
    expect("SignatureDoesNotMatch" in cmd.err and "403" in cmd.err, f"output: {cmd.err[-600:]}")
    cmd = rc("copyto", os.path.join(FILES, "alpha.txt"), f"cnx:{B}/denied.txt", env=env, check=False)
    expect(cmd.rc != 0 and "403" in cmd.err, f"upload with a wrong secret: {cmd.describe()}")
    expect(rc("link", f"cnx:{B}/denied.txt", check=False).rc != 0, "the denied upload left an object")


def t_unknown_access_key():
    env = remote_env(RCLONE_CONFIG_CNX_ACCESS_KEY_ID="CNXNOSUCHKEY00000000")
    cmd = rc("lsd", "cnx:", env=env, check=False)
    expect(cmd.rc != 0, "lsd with an unknown access key succeeded")
    expect("InvalidAccessKeyId" in cmd.err and "403" in cmd.err, f"output: {cmd.err[-600:]}")


def t_missing_object():
    cmd = rc("link", f"cnx:{B}/no/such/key.txt", check=False)
    expect(cmd.rc == 4 and "object not found" in cmd.err, f"link: {cmd.describe()}")
    cmd = rc("deletefile", f"cnx:{B}/no/such/key.txt", check=False)
    expect(cmd.rc != 0 and "doesn't exist" in cmd.err, f"deletefile: {cmd.describe()}")
    cmd = rc("copyto", "--error-on-no-transfer", f"cnx:{B}/no/such/key.txt", os.path.join(DOWN, "nothing"),
             check=False)
    expect(cmd.rc == 9, f"copyto of a missing object: {cmd.describe()}")


def t_missing_bucket():
    missing = bucket_name("rclone", "missing")
    cmd = rc("lsf", f"cnx:{missing}", check=False)
    expect(cmd.rc == 3 and "directory not found" in cmd.err, f"lsf: {cmd.describe()}")
    # without rclone's bucket auto-creation the upload meets NoSuchBucket
    cmd = rc("copyto", "--s3-no-check-bucket", os.path.join(FILES, "alpha.txt"), f"cnx:{missing}/x.txt",
             check=False)
    expect(cmd.rc != 0 and "NoSuchBucket" in cmd.err and "404" in cmd.err, f"upload: {cmd.describe()}")


def t_bucket_not_empty():
    cmd = rc("rmdir", f"cnx:{B}", check=False)
    expect(cmd.rc != 0, "rmdir of a non-empty bucket succeeded")
    expect("BucketNotEmpty" in cmd.err and "409" in cmd.err, f"output: {cmd.err[-600:]}")


def t_invalid_bucket_name():
    cmd = rc("mkdir", "cnx:Invalid_Bucket_Name", check=False)
    expect(cmd.rc != 0 and "InvalidBucketName" in cmd.err, f"mkdir: {cmd.describe()}")


# ------------------------------------------------------------------ hard keys

# keys rclone cannot name: it cleans remote paths like a file system path
RCLONE_CANNOT = {
    "dot-dot": "rclone cleans remote paths (path.Clean): 'a/../b/./c.txt' is stored as 'b/c.txt'",
    "dot-dot-only": "rclone reads '..' as the parent directory, not an object name",
    "double-slash": "rclone collapses empty path segments: 'double//slash.txt' is stored as 'double/slash.txt'",
    "leading-slash": "rclone paths are relative to the bucket: the leading '/' is dropped",
    "trailing-slash": "a key ending in '/' is a directory to rclone (copyto/rcat: 'is a directory')",
}
ENC = ["--s3-encoding", "None"]  # no rclone name encoding: the S3 key is the path as given


def rclone_name(key: str) -> str:
    """rclone's own spelling of a key: control characters as Unicode control pictures."""
    return "".join(chr(0x2400 + ord(c)) if ord(c) < 0x20 else ("\u2421" if c == "\x7f" else c) for c in key)


def hard_keys(suite: Suite):
    keys = load_hard_keys()
    failures: dict[str, list[str]] = {k["name"]: [] for k in keys}
    todo = [k for k in keys if k["name"] not in RCLONE_CANNOT]

    def attempt(name: str, what: str, fn):
        if failures[name]:
            return
        try:
            fn()
        except Exception as exc:  # noqa: BLE001
            failures[name].append(f"{what}: {exc}")

    try:
        rc("mkdir", f"cnx:{HB}")
        rc("mkdir", f"cnx:{HB2}")
    except Exception as exc:  # noqa: BLE001
        for k in todo:
            failures[k["name"]].append(f"mkdir of the hard-key buckets: {exc}")
    for k in todo:
        name, key = k["name"], k["key"]
        data = f"hard key {name}\n".encode()
        src = write(os.path.join(WORK, "hard", name), data)
        attempt(name, "put (copyto)", lambda: rc(*ENC, "copyto", src, f"cnx:{HB}/{rclone_name(key)}"))

    def listing(bucket: str, *flags: str) -> set[str] | None:
        try:
            return {e["Path"] for e in lsjson(f"cnx:{bucket}", *ENC, "-R", "--files-only", *flags)}
        except Exception as exc:  # noqa: BLE001
            for k in todo:
                attempt(k["name"], f"list {bucket} {' '.join(flags)}", lambda: (_ for _ in ()).throw(exc))
            return None

    for flag in ("false", "true"):
        listed = listing(HB, "--s3-list-url-encode", flag) or set()
        for k in todo:
            if rclone_name(k["key"]) not in listed and not failures[k["name"]]:
                failures[k["name"]].append(f"list (encoding-type={'url' if flag == 'true' else 'none'}): "
                                           f"not in listing")

    for k in todo:
        name, key = k["name"], k["key"]
        data = f"hard key {name}\n".encode()
        path = f"cnx:{HB}/{rclone_name(key)}"

        def get():
            expect_eq("cat", data, rc(*ENC, "cat", path).out)

        def presign():
            url = rc(*ENC, "link", "--expire", "5m", path).stdout.strip()
            url_path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
            expect_eq("key in the presigned URL", f"/{HB}/{key}", url_path)
            status, body = curl(url)
            expect_eq("presigned GET", (200, data), (status, body))

        def copy():
            cmd = rc(*ENC, "copyto", "-v", path, f"cnx:{HB2}/{rclone_name(key)}")
            expect("server-side copy" in cmd.err, "not server-side")
            expect_eq("copy body", data, rc(*ENC, "cat", f"cnx:{HB2}/{rclone_name(key)}").out)
            rc(*ENC, "deletefile", f"cnx:{HB2}/{rclone_name(key)}")

        def delete():
            rc(*ENC, "deletefile", path)

        attempt(name, "get (cat)", get)
        attempt(name, "presign (link + curl)", presign)
        attempt(name, "server-side copy", copy)
        attempt(name, "delete (deletefile)", delete)

    left = (listing(HB) or set()) | (listing(HB2) or set())
    for k in todo:
        if rclone_name(k["key"]) in left and not failures[k["name"]]:
            failures[k["name"]].append("delete: still listed after deletefile")

    for k in keys:
        name = k["name"]

        def report(name=name):
            if name in RCLONE_CANNOT:
                raise Skip(RCLONE_CANNOT[name])
            if failures[name]:
                raise CheckFailed("; ".join(failures[name]))

        suite.check("hard keys", f"hard key {name}", report)


# ------------------------------------------------------------------ main


def main() -> int:
    suite = Suite("rclone", rversion())
    try:
        c = suite.check
        if not c("buckets", "mkdir bucket, lsd lists it", t_mkdir_lsd):
            print("the main bucket could not be made; later checks will fail")
        c("buckets", "mkdir of a bucket one already owns succeeds", t_mkdir_existing)
        c("buckets", "rmdir empty bucket, lsd no longer lists it", t_rmdir)
        c("objects", "copyto up and down, cat: sha256 (empty, 1 KiB, 5 MiB, spaces, unicode)", t_copyto_cat)
        c("objects", "rcat from stdin, cat to stdout", t_rcat_stdin)
        c("objects", "lsjson: size, mtime (x-amz-meta-mtime), md5", t_lsjson_size_mtime_md5)
        c("objects", "metadata round trip: -M --metadata-set (user metadata, content-type, cache-control, "
                     "content-disposition), lsjson -M and presigned GET headers", t_metadata)
        c("objects", "deletefile", t_deletefile)
        c("conditional/range", "cat --offset/--count/--head/--tail (Range, 206)", t_cat_ranges)
        c("conditional/range", "cat --offset/--count across 5 MiB, --tail 100", t_cat_range_big)
        c("copy", "copyto within the remote is a server-side copy (md5, metadata kept)", t_copyto_server_side)
        c("copy", "copyto to another bucket, unicode source (server-side)", t_copyto_other_bucket)
        c("copy", "moveto (server-side copy + delete)", t_moveto)
        c("list", "lsf directory listing (prefix + delimiter)", t_lsf_dirs)
        c("list", "lsf -R --files-only/--dirs-only, lsjson -R sizes", t_lsf_recursive)
        c("list", "copy of 1,050 files (--transfers 16), lsf lists all in 2 pages of 1,000", t_many_upload_list)
        c("list", "1,050 keys with ListObjects v1 and v2 in pages of 100 (--s3-list-chunk)",
          t_many_small_pages_v1_v2)
        c("list", "listing with and without encoding-type=url (--s3-list-url-encode)", t_many_url_encode)
        c("multipart", "30 MiB copyto with --s3-upload-cutoff 5M --s3-chunk-size 5M (7 parts, -7 ETag, md5, sha256)",
          t_multipart_upload)
        c("multipart", "rcat of 12 MiB from stdin streams as multipart", t_multipart_rcat_stream)
        c("multipart", "server-side multipart copy (--s3-copy-cutoff 5M, UploadPartCopy)", t_multipart_copy)
        c("multipart", "backend list-multipart-uploads: nothing left behind", t_multipart_no_leftovers)
        c("checksums", "md5sum of the remote matches local md5", t_md5sum)
        c("checksums", "check (md5) finds a same-size change; copy --checksum repairs it, then transfers nothing",
          t_check)
        c("checksums", "md5sum of multipart object and its multipart copy", t_hashsum_multipart_and_copy)
        c("auth/presign", "link (presigned GET) fetched with curl", t_link_get)
        c("auth/presign", "presigned GET: tampered signature and expiry (--expire 1s) give 403", t_link_expired_and_tampered)
        c("auth/presign", "presigned PUT (--s3-use-presigned-request)", t_presigned_put)
        c("errors", "wrong secret: SignatureDoesNotMatch, 403", t_wrong_secret)
        c("errors", "unknown access key: InvalidAccessKeyId, 403", t_unknown_access_key)
        c("errors", "missing object: link 'object not found', deletefile fails", t_missing_object)
        c("errors", "missing bucket: lsf 'directory not found', upload NoSuchBucket 404", t_missing_bucket)
        c("errors", "rmdir of a non-empty bucket: BucketNotEmpty 409", t_bucket_not_empty)
        c("errors", "mkdir with an invalid bucket name: InvalidBucketName", t_invalid_bucket_name)
        c("objects", "delete of many (--include filter, 500 of 1,050) and purge of the rest with the bucket",
          t_delete_many_and_purge)
        c("versioning", "backend versioning Enabled, --s3-versions listing and cat, cleanup-hidden, rmdir",
          t_versions)
        try:
            hard_keys(suite)
        except Exception as exc:  # noqa: BLE001 - recorded, never fatal
            def crashed(exc=exc):
                raise CheckFailed(f"hard-key round trip crashed: {exc!r}")

            suite.check("hard keys", "hard keys (setup)", crashed)
    finally:
        for bucket in ALL_BUCKETS:
            rc("purge", "--checkers", "16", f"cnx:{bucket}", check=False)
    return suite.finish()


if __name__ == "__main__":
    raise SystemExit(main())
