"""The AWS Lambda Runtime Interface Emulator (RIE) on loopback, running a handler with awslambdaric as Lambda
does, and API Gateway HTTP API (payload 2.0) events.

The RIE binary ships inside the aws-sam-cli wheel; it is downloaded once (`pip download --no-deps`) and only
the binary is kept, in a cache folder ($VIEWFINDER_TEST_CACHE, else ~/.cache/viewfinder-tests).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

from s3_helpers import free_ports

SAM_CLI = "aws-sam-cli==1.170.0"
RIE_MEMBER = "samcli/local/rapid/aws-lambda-rie-x86_64"


def rie_binary() -> Path:
    """The emulator binary, from the cache or extracted from a freshly downloaded aws-sam-cli wheel."""
    cache = Path(os.environ.get("VIEWFINDER_TEST_CACHE") or Path.home() / ".cache" / "viewfinder-tests")
    binary = cache / f"aws-lambda-rie-{SAM_CLI.split('==')[1]}"
    if binary.exists():
        return binary
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", folder, SAM_CLI]
        subprocess.run(command, check=True)
        wheel = next(Path(folder).glob("aws_sam_cli-*.whl"))
        with zipfile.ZipFile(wheel) as archive:
            staging = binary.with_name(binary.name + f".{os.getpid()}.tmp")
            staging.write_bytes(archive.read(RIE_MEMBER))
    staging.chmod(0o755)
    os.replace(staging, binary)
    return binary


@contextlib.contextmanager
def run_rie(handler: str, env: dict[str, str], cwd: Path) -> Iterator[str]:
    """Runs `python -m awslambdaric HANDLER` under the emulator, both on loopback; yields the invoke URL."""
    api_port, runtime_port = free_ports(2)
    command = [
        str(rie_binary()),
        "--runtime-interface-emulator-address", f"127.0.0.1:{api_port}",  # the default is 0.0.0.0:8080
        "--runtime-api-address", f"127.0.0.1:{runtime_port}",  # the default 9001 collides between runs
        sys.executable, "-m", "awslambdaric", handler,
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:  # not a pipe: an unread pipe can fill up and block the runtime
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while True:  # the emulator is ready once its port accepts; the runtime starts on the first invoke
                try:
                    socket.create_connection(("127.0.0.1", api_port), timeout=0.2).close()
                    break
                except OSError:
                    log.seek(0)
                    assert process.poll() is None and time.monotonic() < deadline, log.read().decode()
                    time.sleep(0.05)
            yield f"http://127.0.0.1:{api_port}/2015-03-31/functions/function/invocations"
        except BaseException:
            log.seek(0)
            print(log.read().decode(errors="replace")[-5000:])
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def http_event(method: str, path: str, body: object = None, query: str = "") -> dict:
    """An API Gateway HTTP API (payload format 2.0) event."""
    headers = {"host": "abc123.execute-api.us-east-1.amazonaws.com", "accept": "application/json"}
    raw = None
    if body is not None:
        raw = base64.b64encode(json.dumps(body).encode()).decode()
        headers["content-type"] = "application/json"
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "cookies": [],
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "requestId": "request",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 0,
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "t"},
        },
        "body": raw,
        "isBase64Encoded": raw is not None,
    }


def invoke(url: str, event: dict) -> dict:
    """The function's response to an event (the emulator answers 200; the app's status is inside)."""
    request = urllib.request.Request(url, data=json.dumps(event).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())
