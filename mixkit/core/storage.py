"""Where bytes live: local paths and URLs (s3://, gs://, hf://, file://, any fsspec protocol), one API.

Every reader and writer of mixkit that may be handed a URL goes through these functions: shards,
manifests, parquet partitions, completion markers. A plain path (or file://) is the local disk and
works as it always did; anything else is opened through fsspec (s3fs for s3://, gcsfs for gs://,
huggingface_hub for hf://).

Credentials and endpoints come from each filesystem's usual configuration, never from mixkit: for
S3 the AWS variables (AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, AWS_PROFILE, AWS_ENDPOINT_URL or
AWS_ENDPOINT_URL_S3 for a non-AWS server), ~/.aws/config and instance roles; fsspec's own config
(FSSPEC_S3_ANON=true, ~/.config/fsspec/*.json) for filesystem options. mixkit stores none of it
and writes URLs without any user:password part (`display`).

Commits. A file is published under its final name only when it is complete:
  * local disk: written as NAME.tmp, then renamed (os.replace is atomic);
  * object storage: a PUT (or a completed multipart upload) is atomic per object, so writing the
    object under its final name is the commit; an upload that fails or is killed is never
    completed (fsspec's autocommit=False + commit()) and leaves no object behind.
There is no rename on object storage (a copy plus a delete, not atomic), so nothing here uses one.

Errors that rerunning cannot fix (wrong credentials, a missing bucket, a missing package for the
protocol) become one `StorageError` line that names the URL and what to do.
"""
from __future__ import annotations

import io
import os
import re
from contextlib import contextmanager
from pathlib import Path
from typing import IO

# Bytes fetched per request when streaming a remote file: big enough that a request's latency
# is small against its transfer, small enough that several open shards stay cheap in memory.
READ_BLOCK = 8 << 20
# Bytes buffered before a part of a multipart upload is sent (S3 wants parts of >= 5 MiB).
WRITE_BLOCK = 16 << 20

_URL = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*)://")
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.\-]*://)[^/@]*@")


class StorageError(OSError):
    """A storage problem that rerunning cannot fix (credentials, a missing bucket or package):
    the message is one line that names the URL and says what to do."""


# ---------------------------------------------------------------------------------------------
# Names
# ---------------------------------------------------------------------------------------------

def _str(path) -> str:
    """A path, os.PathLike or URLPath as its string (a URLPath is not os.PathLike, on purpose:
    open() or Path() must never take a URL for a local name)."""
    return path.url if isinstance(path, URLPath) else os.fspath(path)


def protocol(path: str | os.PathLike) -> str:
    """"s3", "gs", "hf", ... for a URL; "" for a local path (file:// included)."""
    m = _URL.match(str(path))
    if not m or m.group(1).lower() in ("file", "local"):
        return ""
    return m.group(1).lower()


def is_remote(path: str | os.PathLike) -> bool:
    return protocol(path) != ""


def local_path(path: str | os.PathLike) -> str:
    """A local path as a plain path (file:///x -> /x)."""
    s = _str(path)
    m = _URL.match(s)
    return s[len(m.group(0)):] if m and m.group(1).lower() in ("file", "local") else s


def display(path: str | os.PathLike) -> str:
    """The path or URL as it may be printed or recorded: without a user:password@ part."""
    return _USERINFO.sub(r"\1", _str(path))


def join(base: str | os.PathLike, *names: str) -> str:
    """base/name/...: '/' on URLs, os.path.join on local paths."""
    base = _str(base)
    if not is_remote(base):
        return os.path.join(local_path(base), *names)
    return "/".join([base.rstrip("/"), *(n.strip("/") for n in names)])


def name(path: str | os.PathLike) -> str:
    """The last component (file name) of a path or URL."""
    return _str(path).rstrip("/").rsplit("/", 1)[-1]


def parent(path: str | os.PathLike) -> str:
    s = _str(path)
    if not is_remote(s):
        return os.path.dirname(os.path.abspath(local_path(s)))
    head, _, _ = s.rstrip("/").rpartition("/")
    return head


def path(location: "str | os.PathLike | URLPath") -> "Path | URLPath":
    """A folder or file to work in, as a path object: `pathlib.Path` for the local disk (file://
    included), `URLPath` for a URL. The build's steps, partitions and markers are written through
    this, so one code path serves a local disk, a shared disk and object storage."""
    if isinstance(location, URLPath):
        return location
    s = os.fspath(location)
    return URLPath(s) if is_remote(s) else Path(local_path(s))


class URLPath:
    """The part of `pathlib.Path` mixkit's steps use, for a URL (s3://bucket/build/steps/...).

    Object storage has no folders: `mkdir` does nothing and a "folder" exists while objects are
    under its prefix. Writes are atomic per object (`write_bytes`, `atomic_write`); there is no
    rename. Every listing and existence check asks the server (what another worker wrote since
    is seen). Not os.PathLike on purpose: open() or Path() would take the URL for a local name."""

    __slots__ = ("url",)

    def __init__(self, url: str):
        self.url = url if url.endswith("://") else url.rstrip("/")

    # names
    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"URLPath({display(self.url)!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, URLPath) and other.url == self.url

    def __lt__(self, other: "URLPath") -> bool:
        return self.url < other.url

    def __hash__(self) -> int:
        return hash(self.url)

    def __truediv__(self, name: "str | os.PathLike") -> "URLPath":
        return URLPath(join(self.url, *str(name).split("/")))

    def joinpath(self, *names: str) -> "URLPath":
        return URLPath(join(self.url, *names))

    @property
    def name(self) -> str:
        return name(self.url)

    @property
    def suffix(self) -> str:
        n = self.name
        i = n.rfind(".")
        return n[i:] if 0 < i < len(n) - 1 else ""

    @property
    def stem(self) -> str:
        return self.name[: len(self.name) - len(self.suffix)]

    @property
    def parent(self) -> "URLPath":
        return URLPath(parent(self.url))

    @property
    def parts(self) -> tuple[str, ...]:
        head = _URL.match(self.url).group(0)
        return (head, *self.url[len(head):].split("/"))

    def with_name(self, new: str) -> "URLPath":
        return self.parent / new

    def with_suffix(self, suffix: str) -> "URLPath":
        return self.parent / (self.stem + suffix)

    def relative_to(self, other: "URLPath") -> Path:
        base = str(other).rstrip("/") + "/"
        if not self.url.startswith(base):
            raise ValueError(f"{display(self.url)} is not under {display(str(other))}")
        return Path(self.url[len(base):])

    # the filesystem
    def exists(self) -> bool:
        return exists(self.url)              # an object, or a prefix with objects under it

    def is_dir(self) -> bool:
        return is_dir(self.url)

    def is_file(self) -> bool:
        return exists(self.url) and not is_dir(self.url)

    def mkdir(self, parents: bool = False, exist_ok: bool = False) -> None:
        """Nothing to create: a prefix exists when something is written under it."""

    def iterdir(self):
        return iter(URLPath(u) for u in list_entries(self.url))

    def glob(self, pattern: str):
        """Entries directly under this prefix whose name matches `pattern` (fnmatch; one level)."""
        import fnmatch

        if "/" in pattern:
            head, rest = pattern.split("/", 1)
            return iter([q for d in self.glob(head) for q in d.glob(rest)])
        return iter(URLPath(u) for u in list_entries(self.url) if fnmatch.fnmatchcase(name(u), pattern))

    def stat(self):
        return os.stat_result((0, 0, 0, 0, 0, 0, size(self.url), 0, 0, 0))

    def read_bytes(self) -> bytes:
        return read_bytes(self.url)

    def read_text(self, encoding: str = "utf-8") -> str:
        return read_bytes(self.url).decode(encoding)

    def write_bytes(self, data: bytes) -> int:
        write_bytes(self.url, data)
        return len(data)

    def write_text(self, text: str, encoding: str = "utf-8") -> int:
        write_bytes(self.url, text.encode(encoding))
        return len(text)

    def open(self, mode: str = "rb"):
        if mode in ("r", "rt"):
            return io.TextIOWrapper(open_read(self.url), encoding="utf-8")
        if mode == "rb":
            return open_read(self.url)
        raise ValueError(f"URLPath.open({mode!r}): write through storage.AtomicWrite (an object appears only "
                         f"when complete)")

    def unlink(self, missing_ok: bool = False) -> None:
        remove(self.url, missing_ok=missing_ok)


# ---------------------------------------------------------------------------------------------
# Filesystems and errors
# ---------------------------------------------------------------------------------------------

def filesystem(url: str):
    """(fsspec filesystem, path inside it) for a remote URL; StorageError when the protocol's
    package is missing or the protocol is unknown."""
    import fsspec
    from fsspec.registry import known_implementations

    proto = protocol(url)
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as e:
        need = known_implementations.get(proto, {}).get("class", "").split(".")[0]
        pkg = {"huggingface_hub": "huggingface_hub"}.get(need, need) or "the package for it"
        raise StorageError(f"{display(url)}: {proto}:// needs the {pkg} package (pip install {pkg}): {e}") from e
    except ValueError as e:            # "Protocol not known"
        raise StorageError(f"{display(url)}: {e}") from e


def _bucket(url: str) -> str:
    rest = _URL.sub("", display(url), count=1)
    return rest.split("/", 1)[0]


def storage_error(url: str, e: BaseException) -> BaseException:
    """The exception to raise for `e` met on `url`: a StorageError for what rerunning cannot fix
    (no access, no bucket, no credentials, no endpoint), `e` itself otherwise (a missing object is
    a FileNotFoundError the caller may expect)."""
    if isinstance(e, StorageError):
        return e
    text = str(e) or type(e).__name__
    kind = type(e).__name__
    if isinstance(e, PermissionError):
        return StorageError(f"{display(url)}: access denied ({text}); check the credentials "
                            f"(AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE for s3://) and the "
                            f"permissions they have on bucket {_bucket(url)!r}")
    if isinstance(e, FileNotFoundError) and "bucket does not exist" in text.lower():
        return StorageError(f"{display(url)}: bucket {_bucket(url)!r} does not exist; create it first "
                            f"or check the URL (and AWS_ENDPOINT_URL when the server is not AWS)")
    if kind in ("NoCredentialsError", "PartialCredentialsError", "CredentialRetrievalError"):
        return StorageError(f"{display(url)}: no credentials found ({text}); set AWS_ACCESS_KEY_ID and "
                            f"AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or FSSPEC_S3_ANON=true for a public bucket")
    if kind in ("EndpointConnectionError", "ConnectTimeoutError", "ClientConnectorError"):
        return StorageError(f"{display(url)}: cannot reach the storage endpoint ({text}); check "
                            f"AWS_ENDPOINT_URL / the network")
    if kind == "InvalidBucketName" or "Invalid bucket name" in text:
        return StorageError(f"{display(url)}: not a valid bucket name ({text})")
    return e


# Protocols whose first path component is a bucket (container) that must exist.
_BUCKET_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss"})


def raise_if_no_bucket(url: str | os.PathLike) -> None:
    """Where a lookup found nothing: a StorageError when the reason is that the bucket of `url`
    does not exist (object stores answer "no such key" for keys of a missing bucket). One request,
    only on that failure path."""
    url = _str(url)
    if protocol(url) not in _BUCKET_PROTOCOLS:
        return
    fs, path = filesystem(url)
    bucket = path.split("/", 1)[0]
    with _errors(url):
        try:
            fs.info(bucket)
        except FileNotFoundError as e:
            raise FileNotFoundError(f"{e}: the specified bucket does not exist") from e


@contextmanager
def _errors(url: str):
    try:
        yield
    except Exception as e:  # noqa: BLE001 - botocore's errors are not OSErrors; sorted in storage_error
        mapped = storage_error(url, e)
        if mapped is e:
            raise
        raise mapped from e


# ---------------------------------------------------------------------------------------------
# Read
# ---------------------------------------------------------------------------------------------

def _forget_listing(fs, path: str) -> None:
    """s3fs answers "not found" from its cached listing of the folder, without asking the server,
    for an object another process wrote after this one listed the folder (a shard's sidecar
    written by a worker): forget that listing before opening."""
    fs.invalidate_cache(path.rsplit("/", 1)[0] if "/" in path else path)


def open_read(url: str | os.PathLike, block_size: int = READ_BLOCK) -> IO[bytes]:
    """A buffered binary reader (with peek). Remote files are streamed in `block_size` range
    requests as they are read, never downloaded whole first."""
    url = _str(url)
    if not is_remote(url):
        return open(local_path(url), "rb")
    fs, path = filesystem(url)
    with _errors(url):
        _forget_listing(fs, path)
        f = fs.open(path, "rb", block_size=block_size, cache_type="readahead")
    return io.BufferedReader(f, buffer_size=1 << 20)


def read_bytes(url: str | os.PathLike) -> bytes:
    url = _str(url)
    if not is_remote(url):
        with open(local_path(url), "rb") as f:
            return f.read()
    fs, path = filesystem(url)
    with _errors(url):
        _forget_listing(fs, path)
        return fs.cat_file(path)


def read_many(urls: list[str]) -> list[bytes]:
    """Whole small files (sidecars), in order; on object storage fetched concurrently (fsspec's
    cat of many paths), not one request after another."""
    remote = [u for u in urls if is_remote(u)]
    got: dict[str, bytes] = {}
    if remote:
        fs, _ = filesystem(remote[0])
        paths = {u: filesystem(u)[1] for u in remote}
        with _errors(remote[0]):
            for p in {p.rsplit("/", 1)[0] for p in paths.values()}:
                fs.invalidate_cache(p)
            found = fs.cat(list(paths.values()), on_error="raise")
        got = {u: found[p] for u, p in paths.items()}
    return [got[u] if u in got else read_bytes(u) for u in urls]


def read_text(url: str | os.PathLike) -> str:
    return read_bytes(url).decode("utf-8")


def exists(url: str | os.PathLike) -> bool:
    url = _str(url)
    if not is_remote(url):
        return os.path.exists(local_path(url))
    fs, path = filesystem(url)
    with _errors(url):
        fs.invalidate_cache()          # another process may have written it since the last listing
        return fs.exists(path)


def is_dir(url: str | os.PathLike) -> bool:
    """A local directory, or a prefix that holds objects on object storage."""
    url = _str(url)
    if not is_remote(url):
        return os.path.isdir(local_path(url))
    fs, path = filesystem(url)
    with _errors(url):
        fs.invalidate_cache()
        return fs.isdir(path)


def size(url: str | os.PathLike) -> int:
    url = _str(url)
    if not is_remote(url):
        return os.path.getsize(local_path(url))
    fs, path = filesystem(url)
    with _errors(url):
        return int(fs.size(path))


def _has_magic(s: str) -> bool:
    return any(c in s for c in "*?[")


def glob(pattern: str | os.PathLike) -> list[str]:
    """Sorted paths (URLs for remote patterns) matching a glob with {a,b} / {000..099} braces.
    On object storage a glob matches objects (files), not prefixes. Remote listings are read
    fresh (what other processes wrote since is seen)."""
    from braceexpand import braceexpand   # a webdataset dependency
    import glob as _glob

    pattern = _str(pattern)
    out: set[str] = set()
    for pat in braceexpand(pattern):
        if not is_remote(pat):
            out.update(_glob.glob(local_path(pat), recursive="**" in pat))
            continue
        fs, path = filesystem(pat)
        with _errors(pat):
            fs.invalidate_cache()
            if _has_magic(path):
                hits = [p for p, info in fs.glob(path, detail=True).items() if info.get("type") == "file"]
            else:
                hits = [path] if fs.isfile(path) else []
        if not hits:
            raise_if_no_bucket(pat)
        out.update(_url_of(pat, fs, h) for h in hits)
    return sorted(out)


def _url_of(like: str, fs, path: str) -> str:
    """A filesystem path back as a URL with the protocol `like` was written with."""
    return f"{_URL.match(like).group(1)}://{path.lstrip('/')}" if fs.protocol else path


def _listing(directory: str) -> tuple[object, list[dict]]:
    """One listing request under a remote prefix, read fresh (what other processes wrote since is
    seen): (filesystem, entries with name, type and size), the prefix itself left out. A missing
    folder lists as empty; a missing bucket is a StorageError."""
    fs, path = filesystem(directory)
    with _errors(directory):
        fs.invalidate_cache(path)
        try:
            entries = fs.ls(path, detail=True)
        except FileNotFoundError as e:
            if "bucket does not exist" in str(e).lower():      # not a folder named .../buckets
                raise
            return fs, []
    return fs, sorted((e for e in entries if e["name"].rstrip("/") != path.rstrip("/")), key=lambda e: e["name"])


def list_files(directory: str | os.PathLike, suffixes: tuple[str, ...] = ()) -> list[str]:
    """Files directly in a directory (or under a prefix), sorted; only those ending in one of
    `suffixes` when given. A missing directory lists as empty."""
    return [u for u, _ in file_sizes(directory) if not suffixes or u.endswith(suffixes)]


def file_sizes(directory: "str | os.PathLike | URLPath") -> list[tuple[str, int]]:
    """(path or URL, bytes) of the files directly in a directory, sorted; a missing one lists as
    empty. On object storage one request (the listing brings the sizes); on a disk a scandir and
    a stat per file (a file removed in between is left out)."""
    directory = _str(directory)
    if is_remote(directory):
        fs, entries = _listing(directory)
        return [(_url_of(directory, fs, e["name"]), int(e["size"])) for e in entries if e.get("type") == "file"]
    out = []
    try:
        found = sorted(os.scandir(local_path(directory)), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return out
    for e in found:
        try:
            if e.is_file():
                out.append((e.path, e.stat().st_size))
        except FileNotFoundError:
            continue
    return out


def list_entries(directory: "str | os.PathLike | URLPath") -> list[str]:
    """Files and folders (prefixes) directly in a directory, sorted; a missing one lists as empty."""
    directory = _str(directory)
    if not is_remote(directory):
        d = local_path(directory)
        return [os.path.join(d, n) for n in sorted(os.listdir(d))] if os.path.isdir(d) else []
    fs, entries = _listing(directory)
    return [_url_of(directory, fs, e["name"].rstrip("/")) for e in entries]


def find(directory: str | os.PathLike) -> list[str]:
    """Every file under a remote prefix, at any depth, sorted (a walk of a local tree: os.walk)."""
    directory = _str(directory)
    fs, path = filesystem(directory)
    with _errors(directory):
        fs.invalidate_cache()
        found = fs.find(path, detail=True)        # files only: some servers list folder entries too
        return [_url_of(directory, fs, p) for p, info in sorted(found.items()) if info.get("type") != "directory"]


# ---------------------------------------------------------------------------------------------
# Write
# ---------------------------------------------------------------------------------------------

def makedirs(url: str | os.PathLike) -> None:
    """Create a local directory (with parents). Object storage has no directories: nothing to do."""
    url = _str(url)
    if not is_remote(url):
        os.makedirs(local_path(url), exist_ok=True)


class AtomicWrite:
    """A binary file that appears under `url` only when `commit()` is called (or the `with` block
    ends without an exception); `discard()` (or an exception) leaves nothing under that name.

    Local: NAME.tmp beside the target, renamed on commit. Remote: fsspec's transactional write
    (autocommit=False): parts are uploaded as they fill, the object exists only after commit.
    """

    def __init__(self, url: str | os.PathLike):
        self.url = _str(url)
        self.remote = is_remote(self.url)
        if self.remote:
            fs, path = filesystem(self.url)
            with _errors(self.url):
                self.file = fs.open(path, "wb", block_size=WRITE_BLOCK, autocommit=False)
        else:
            self.path = local_path(self.url)
            self.tmp = self.path + ".tmp"
            os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
            self.file = open(self.tmp, "wb")
        self.done = False

    def write(self, data) -> int:
        if not self.remote:
            return self.file.write(data)
        with _errors(self.url):            # a full buffer uploads a part here
            return self.file.write(data)

    def tell(self) -> int:
        return self.file.tell()

    @property
    def closed(self) -> bool:        # pyarrow writes into any file object that says it is open
        return self.done

    def flush(self) -> None:         # parts are sent as they fill; the rest on commit
        pass

    def commit(self) -> None:
        if self.done:
            return
        self.done = True
        if self.remote:
            with _errors(self.url):
                self.file.close()          # uploads what is buffered; the object is not there yet
                self.file.commit()         # completes the upload: the object appears, whole
        else:
            self.file.close()
            os.replace(self.tmp, self.path)

    def discard(self) -> None:
        if self.done:
            return
        self.done = True
        if self.remote:
            try:
                self.file.discard()        # aborts the multipart upload, if one was started
            finally:
                self.file.closed = True    # never close(): that would upload the buffer
        else:
            self.file.close()
            try:
                os.unlink(self.tmp)
            except FileNotFoundError:
                pass

    def __enter__(self) -> "AtomicWrite":
        return self

    def __exit__(self, exc_type, *_) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def write_bytes(url: str | os.PathLike, data: bytes) -> None:
    """Write a whole file atomically (one PUT on object storage; tmp + rename on disk)."""
    url = _str(url)
    if not is_remote(url):
        with AtomicWrite(url) as f:
            f.write(data)
        return
    fs, path = filesystem(url)
    with _errors(url):
        fs.pipe_file(path, data)


def write_text(url: str | os.PathLike, text: str) -> None:
    write_bytes(url, text.encode("utf-8"))


def remove(url: str | os.PathLike, missing_ok: bool = True) -> None:
    url = _str(url)
    if not is_remote(url):
        try:
            os.unlink(local_path(url))
        except FileNotFoundError:
            if not missing_ok:
                raise
        return
    fs, path = filesystem(url)
    with _errors(url):
        try:
            fs.rm_file(path)
        except FileNotFoundError:
            if not missing_ok:
                raise


def remove_tree(url: str | os.PathLike) -> None:
    """Delete a directory (every object under a prefix); nothing when it does not exist."""
    import shutil

    url = _str(url)
    if not is_remote(url):
        shutil.rmtree(local_path(url), ignore_errors=True)
        return
    fs, path = filesystem(url)
    with _errors(url):
        fs.invalidate_cache()
        if fs.exists(path):
            fs.rm(path, recursive=True)


def check_writable(url: str | os.PathLike) -> None:
    """Fail early, in one line, when `url` cannot be written (credentials, bucket, package):
    writes and deletes one small probe object under it."""
    url = _str(url)
    if not is_remote(url):
        makedirs(url)
        return
    fs, path = filesystem(url)
    probe = f"{path.rstrip('/')}/.mixkit-write-check-{os.getpid()}"
    with _errors(url):                  # the error names the URL the user gave, not the probe
        fs.pipe_file(probe, b"")
        fs.rm_file(probe)

