"""The Host check against DNS rebinding: a loopback server answers loopback names only, and `--allowed-host` or
VIEWFINDER_ALLOWED_HOSTS opens it to the names (or any IP address, or everything) given."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from index_helpers import build
from service_helpers import start_server_process, start_server_thread
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from viewfinder.serve.app import create_app
from viewfinder.serve.guards import LOOPBACK_HOSTS, HostGuard


@pytest.fixture(scope="module")
def loopback_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("hosts")
    build(root / "photos", root / "index", 3)
    with start_server_thread(create_app(root / "index", device="cpu")) as url:
        yield url


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.nip.io", "", "[::1"])
def test_a_loopback_server_refuses_other_host_names_with_a_json_error(loopback_server, host):
    with httpx.Client(base_url=loopback_server, headers={"Host": host}) as client:
        for response in (client.post("/search", json={"query": "cat"}), client.get("/images/1"), client.get("/")):
            assert response.status_code == 400
            assert response.json()["success"] is False and "--allowed-host" in response.json()["error"]


@pytest.mark.parametrize("host", ["localhost", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:1234", "[::1]:8000"])
def test_a_loopback_server_answers_loopback_host_names_on_any_port(loopback_server, host):
    with httpx.Client(base_url=loopback_server, headers={"Host": host}) as client:
        assert client.post("/search", json={"query": "cat"}).status_code == 200
        assert client.get("/images/1").status_code == 200


def host_guarded(allowed: list[str], any_ip: bool = False) -> TestClient:
    app = Starlette(routes=[Route("/", lambda request: PlainTextResponse("ok"))])
    return TestClient(HostGuard(app, allowed, any_ip=any_ip))


def test_the_host_allow_list_takes_names_any_ip_or_everything():
    lan = host_guarded([*LOOPBACK_HOSTS, "photos.lan"], any_ip=True)
    for host in ("photos.lan", "Photos.LAN:8000", "192.168.1.20:8000", "[fe80::1]:8000", "localhost"):
        assert lan.get("/", headers={"Host": host}).status_code == 200, host
    assert lan.get("/", headers={"Host": "evil.example"}).status_code == 400
    loopback = host_guarded(list(LOOPBACK_HOSTS))
    assert loopback.get("/", headers={"Host": "192.168.1.20"}).status_code == 400
    assert host_guarded(["*"]).get("/", headers={"Host": "evil.example"}).status_code == 200


@pytest.mark.slow  # starts server processes
@pytest.mark.parametrize(
    ("args", "env"),
    [(["--allowed-host", "photos.lan"], {}), ([], {"VIEWFINDER_ALLOWED_HOSTS": "other.lan, photos.lan"})],
)
def test_serve_allows_the_hosts_given_with_allowed_host_or_the_environment(tmp_path: Path, args, env):
    build(tmp_path / "photos", tmp_path / "index", 2)
    with start_server_process(tmp_path / "index", *args, env=env) as url, httpx.Client(base_url=url) as client:
        assert client.get("/healthz", headers={"Host": "photos.lan:8000"}).status_code == 200
        assert client.get("/healthz", headers={"Host": "localhost"}).status_code == 200
        refused = client.get("/healthz", headers={"Host": "attacker.example"})
        assert refused.status_code == 400 and refused.json()["success"] is False
