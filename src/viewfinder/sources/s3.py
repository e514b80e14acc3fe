"""Images in an S3 bucket (or an S3-compatible store) as a source, and the S3 client every part shares.

A key is recorded as `s3://bucket/key`. The version stamp is a 63-bit hash of the object's ETag, so the
change plan (size and stamp) tells an unchanged object from the listing alone, without a GET; the GET that
reads an object for indexing names the listed ETag (If-Match), so the bytes indexed are always those of the
version whose stamp is recorded, never a replacement uploaded after the listing. Requests are
signed with SigV4 and retried with backoff on throttling and 5xx; credentials come from the standard AWS
chain; `--s3-endpoint` (`use_endpoint`), else `AWS_ENDPOINT_URL`, points at another S3-compatible store.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any, BinaryIO

from viewfinder.errors import ViewfinderError, needs_extra
from viewfinder.settings import MAX_IMAGE_BYTES, value
from viewfinder.sources.base import (
    IMAGE_SUFFIXES,
    Indexed,
    OriginalChangedError,
    Redirect,
    Source,
    SourceFile,
    Unusable,
)

SCHEME = "s3://"
MAX_ATTEMPTS = 5
NOT_FOUND = frozenset({"404", "NoSuchKey", "NoSuchBucket", "NotFound"})
PRECONDITION_FAILED = 412  # a GET whose If-Match names a version the object no longer is
NOT_IMPLEMENTED = 501  # a store without conditional GETs
FORBIDDEN = frozenset({"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"})


class ObjectGone(FileNotFoundError):
    """An object a listing named is no longer there (deleted between list and get)."""


def is_s3(location: str | os.PathLike[str]) -> bool:
    return str(location).startswith(SCHEME)


def split_url(url: str) -> tuple[str, str]:
    """(bucket, key or prefix) of an s3:// URL; ViewfinderError when it names no bucket."""
    bucket, _, key = str(url).removeprefix(SCHEME).partition("/")
    if not is_s3(url) or len(bucket) < 3:
        raise ViewfinderError(f"{url} is not an S3 location; write s3://BUCKET/PREFIX.")
    return bucket, key


_endpoint: str | None = None  # use_endpoint's; None: the s3_endpoint setting


def use_endpoint(url: str | None) -> None:
    """Points the S3 client of this process at `url`, an S3-compatible store (None: $AWS_ENDPOINT_URL, else AWS)."""
    global _endpoint
    if (url or None) != _endpoint:
        _endpoint = url or None
        client.cache_clear()


def endpoint() -> str | None:
    """The S3 endpoint this process uses: use_endpoint's, else $AWS_ENDPOINT_URL; None: AWS."""
    return _endpoint or value("s3_endpoint")


def credentials_source() -> str | None:
    """Where boto3 finds credentials (its method: env, shared-credentials-file, iam-role, ...), None when it
    finds none; ViewfinderError when its configuration is wrong. The credentials themselves are never read out."""
    with needs_extra("S3 support"):
        import boto3
        from botocore.exceptions import BotoCoreError

    try:
        credentials = boto3.Session().get_credentials()
    except BotoCoreError as error:  # a missing AWS_PROFILE, an unreadable config file
        raise ViewfinderError(f"AWS credentials cannot be looked up: {error}.") from error
    return None if credentials is None else str(credentials.method)


@functools.lru_cache(maxsize=1)
def client() -> Any:
    """The shared thread-safe S3 client of `endpoint()`: SigV4, standard retries. botocore's own client: the
    same calls as boto3's without importing boto3 (0.045 s of CPU of a Lambda cold start, BENCHMARKS.md), whose
    transfer methods only `publish` uses (through boto3's S3Transfer)."""
    with needs_extra("S3 support"):
        from botocore.config import Config
        from botocore.session import get_session
    endpoint_url = endpoint()
    config = Config(
        signature_version="s3v4",
        retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS},
        max_pool_connections=32,
        # Another store than AWS rarely has bucket DNS names: address buckets in the path there.
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return get_session().create_client("s3", endpoint_url=endpoint_url, config=config)


def error_code(error: Exception) -> tuple[str, int]:
    """The S3 error code and HTTP status of a botocore ClientError ('', 0 for anything else)."""
    response = getattr(error, "response", None) or {}
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    return str(response.get("Error", {}).get("Code", "")), int(status or 0)


def explain(error: Exception, what: str) -> ViewfinderError:
    """A one-line ViewfinderError for a failed S3 call on `what` (a bucket or an object URL)."""
    code, status = error_code(error)
    if code in NOT_FOUND or status == 404:
        return ViewfinderError(f"{what} does not exist ({code or status}).")
    if code in FORBIDDEN or status == 403:
        return ViewfinderError(f"Access to {what} is denied ({code or status}); check the AWS credentials.")
    return ViewfinderError(f"Cannot read {what}: {code or type(error).__name__}: {error}")


def version_stamp(etag: str) -> int:
    """A stable non-negative 63-bit integer for an ETag, stored where a file's mtime_ns goes."""
    return int.from_bytes(hashlib.sha256(etag.strip('"').encode()).digest()[:8], "big") >> 1


def presigned_url(url: str, ttl_seconds: int) -> str:
    """A SigV4 presigned GET URL for an s3:// object, valid for `ttl_seconds`."""
    bucket, key = split_url(url)
    return str(
        client().generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(ttl_seconds))
    )


class S3Source(Source):
    """The image objects under s3://bucket/prefix, listed page by page."""

    remote = True

    def __init__(self, location: str) -> None:
        self.bucket, prefix = split_url(location)
        self.prefix = prefix.strip("/")
        self.root = f"{SCHEME}{self.bucket}/{self.prefix}".rstrip("/")

    @classmethod
    def claims(cls, location: str) -> bool:
        return is_s3(location)

    def check(self) -> None:
        """Lists one key, so a missing or forbidden bucket fails before an index is created or changed."""
        with needs_extra("S3 support"):
            from botocore.exceptions import BotoCoreError, ClientError

        try:
            client().list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1)
        except (ClientError, BotoCoreError) as error:
            raise explain(error, f"bucket {self.root}") from None

    def available(self) -> bool:
        return True  # asking costs a request (with retries) wherever it is asked; a failing request says so

    def key_prefix(self) -> str:
        return self.root + "/"

    def still_there(self, key: str) -> bool:
        return True  # a HEAD per search hit would cost a request each; a gone object's presigned link says 404

    def gone(self, keys: Iterable[str]) -> set[str]:
        """The keys not in one listing of the prefix (a request per thousand objects, not one per key)."""
        listed = {item.path for item in self.scan() if isinstance(item, SourceFile)}
        return {key for key in keys if key not in listed}

    def scan(self, exclude: str | None = None) -> Iterator[SourceFile | Unusable]:
        """Every image-named object under the prefix, in key order; ViewfinderError when the bucket can't be
        listed (missing, forbidden), so a run stops before it changes anything."""
        with needs_extra("S3 support"):
            from botocore.exceptions import BotoCoreError, ClientError

        prefix = f"{self.prefix}/" if self.prefix else ""
        pages = client().get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    key = item["Key"]
                    if PurePosixPath(key).suffix.lower() not in IMAGE_SUFFIXES or key.endswith("/"):
                        continue
                    url = f"{SCHEME}{self.bucket}/{key}"
                    etag = str(item["ETag"])
                    yield SourceFile(url, self.root, int(item["Size"]), version_stamp(etag), version=etag)
        except (ClientError, BotoCoreError) as error:
            raise explain(error, f"bucket {self.root}") from None

    def open(self, key: str, version: str = "") -> BinaryIO:
        """The object's bytes, read whole into memory; ObjectGone when it was deleted since the listing, and
        with `version` (the listed ETag) OriginalChangedError when it was replaced since."""
        return io.BytesIO(read_object(key, version=version))

    def open_indexed(self, entry: Indexed) -> BinaryIO:
        """The object's bytes while its ETag is the one indexed; OriginalChangedError when gone or replaced,
        ViewfinderError when the store cannot be read."""
        try:
            data, etag = _get_object(entry.path, MAX_IMAGE_BYTES)
        except ObjectGone:
            raise OriginalChangedError("no longer there") from None
        except OSError as error:  # bigger than a decode would take
            raise OriginalChangedError(str(error)) from None
        if (len(data), version_stamp(etag)) != (entry.size, entry.mtime_ns):
            raise OriginalChangedError("changed since it was indexed")
        return io.BytesIO(data)

    def original(self, entry: Indexed, ttl_seconds: int) -> Redirect:
        """A presigned GET of the object: its bytes never pass through the service."""
        return Redirect(presigned_url(entry.path, ttl_seconds), ttl_seconds)


def read_object(url: str, limit: int = MAX_IMAGE_BYTES, version: str = "") -> bytes:
    """The bytes of an s3:// object (with `version`, an ETag, only of that version): ObjectGone when missing,
    OriginalChangedError when it is no longer `version`, OSError when bigger than `limit`, ViewfinderError for
    other failures (after the client's retries)."""
    return _get_object(url, limit, version)[0]


def _get_object(url: str, limit: int, version: str = "", conditional: bool = True) -> tuple[bytes, str]:
    """(bytes, ETag) of an s3:// object, failing as read_object says."""
    with needs_extra("S3 support"):
        from botocore.exceptions import BotoCoreError, ClientError

    bucket, key = split_url(url)
    replaced = OriginalChangedError(f"object {url} was replaced since it was listed")
    try:
        condition = {"IfMatch": version} if version and conditional else {}
        response = client().get_object(Bucket=bucket, Key=key, **condition)
        etag = str(response.get("ETag", ""))
        # A store that ignores If-Match (or has none) answers with the version it sent, which tells the same.
        if version and etag.strip('"') != version.strip('"'):
            response["Body"].close()
            raise replaced
        if int(response.get("ContentLength", 0)) > limit:
            response["Body"].close()
            raise OSError(f"object is larger than {limit // 2**20} MiB")
        return response["Body"].read(), etag
    except ClientError as error:
        code, status = error_code(error)
        if code in NOT_FOUND or status == 404:
            raise ObjectGone(f"object {url} is no longer in the bucket") from None
        if status == PRECONDITION_FAILED:
            raise replaced from None
        if status == NOT_IMPLEMENTED and condition:
            return _get_object(url, limit, version, conditional=False)
        raise explain(error, url) from None
    except BotoCoreError as error:
        raise explain(error, url) from None
