"""A throw-away Milvus standalone server for the vector store contract tests.

The server is the `milvus` wheel (the dev extra; version 2.3.5): its `milvus-server` launcher writes
`configs/milvus.yaml` from a template and runs `milvus run standalone` as a child, with an embedded etcd.
The template is edited first: every component's `ip` is 127.0.0.1, etcd's client and peer URLs (set by an etcd
config file, which the launcher's options cannot reach) and every port are moved to free loopback ports, so
the server never collides with a Milvus or an etcd on the default ports. Milvus 2.3.5 still listens for gRPC
and metrics on every interface (its `ip` is only the address it advertises), so the launcher and the server run
in a network namespace of their own (`unshare --net`), which holds only its loopback: nothing outside can
reach them. The tests reach the gRPC and health ports through Unix sockets in the data folder, bridged to the
same port numbers on this namespace's 127.0.0.1 (socket_bridge.py). The launcher and the server run in their
own process group. The launcher stops the server with a KILL: its data folder is thrown away, so a graceful
stop (seconds of its components shutting down in turn) would keep nothing.

For the tests the server's periodic work runs at test pace (`test_pace`: PROMPT_VALUES, PROMPT_ADDED); the
benchmark scripts keep its defaults. These poll every 0.2-2 s for work to do, which puts seconds of waiting into
every load, flush and index build and 0.2-0.4 s into every read at Strong consistency. Shorter periods make those
answers come sooner, not differently: a load still waits for its segments, a flush for its data, a Strong read
for the time tick to pass its timestamp.

Run as a script (`python milvus_helpers.py DIR PORTS_JSON [test-pace]`) this module is that launcher.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from s3_helpers import free_ports
from socket_bridge import tcp_to_unix, unix_to_tcp

START_TIMEOUT_S = 300.0  # a first start unpacks ~150 MB of binaries; two busy cores make it slow
# Periods in milliseconds: the template's values replaced (each key is set once in it), and keys it lacks added
# to the top of their section (leaderViewUpdateInterval in seconds).
PROMPT_VALUES = {
    "timeTickInterval": 50,  # proxy: the tick a Strong read waits for (200)
    "checkInterval": 100,  # queryCoord: how soon a load or a release is dispatched (1000)
    "distPullInterval": 100,  # queryCoord: how soon it is seen done (500)
    # dataCoord: a flush waits for the sealed segment's row allocations to expire (2000); rows are allocated as
    # they are written, and flushed after, so a shorter lease loses nothing.
    "assignmentExpiration": 300,
}
PROMPT_ADDED = {
    "queryCoord": ["checkChannelInterval: 100", "checkSegmentInterval: 100", "leaderViewUpdateInterval: 0.1"],
    "indexCoord": ["scheduler:", "  interval: 100"],  # how soon a built index is seen finished (1000)
}
# The launcher's port settings (MilvusServerConfig), then the two it has no setting for.
LAUNCHER_PORTS = (
    "etcd_port",
    "root_coord_port",
    "proxy_port",
    "proxy_internal_port",
    "query_coord_port",
    "query_node_port",
    "index_coord_port",
    "index_node_port",
    "data_coord_port",
    "data_node_port",
)
PORTS = (*LAUNCHER_PORTS, "etcd_peer_port", "metrics_port")
BRIDGED_PORTS = ("proxy_port", "metrics_port")  # what the tests reach: gRPC and /healthz


@contextlib.contextmanager
def run_milvus_server(test_pace: bool = False) -> Iterator[str]:
    """Starts a Milvus server on free loopback ports and yields its address (http://127.0.0.1:PORT); at test pace,
    its periods shortened (prompt_template)."""
    folder = Path(tempfile.mkdtemp(prefix="viewfinder-milvus-"))
    ports = dict(zip(PORTS, free_ports(len(PORTS)), strict=True))
    log = open(folder / "launcher.log", "w")  # noqa: SIM115 - open for the server's whole life
    launcher = [sys.executable, __file__, str(folder), json.dumps(ports), *(["test-pace"] if test_pace else [])]
    process = subprocess.Popen(
        ["unshare", "--net", "sh", "-c", 'ip link set lo up && exec "$@"', "milvus-netns", *launcher],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: the launcher and `milvus run standalone`
    )
    bridges = [tcp_to_unix(ports[name], str(folder / f"{name}.sock")) for name in BRIDGED_PORTS]
    try:
        address = f"http://127.0.0.1:{ports['proxy_port']}"
        _wait_until_ready(process, address, ports["metrics_port"], folder)
        yield address
    finally:
        for listener in bridges:
            listener.close()
        _stop_group(process)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_ready(process: subprocess.Popen, address: str, metrics_port: int, folder: Path) -> None:
    """Returns once the server reports healthy and answers a client; raises with its log otherwise."""
    from pymilvus import MilvusClient

    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/healthz", timeout=5) as response:
                healthy = b"OK" in response.read()
        except OSError:
            healthy = False
        if healthy:
            client = MilvusClient(address, timeout=30)
            client.list_collections()
            client.close()
            return
        time.sleep(0.5)
    logs = "\n".join(
        path.read_text(errors="replace")[-2000:] for path in sorted(folder.rglob("*.log")) if path.is_file()
    )
    raise RuntimeError(f"the Milvus server did not start (exit {process.poll()}):\n{logs}")


def _stop_group(process: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stops the launcher, which kills and reaps the server it started; KILL to the group if it does not."""
    process.terminate()
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=timeout)


def loopback_template(template: str, etcd_config: Path) -> str:
    """The launcher's milvus.yaml template with every address on loopback and etcd's URLs from a config file."""
    text = re.sub(r"(?m)^(\s+)ip:.*$", r"\g<1>ip: 127.0.0.1", template)
    text = text.replace("localhost:", "127.0.0.1:")
    text, found = re.subn(r"(?m)^etcd:\n", f"etcd:\n  config:\n    path: {etcd_config}\n", text, count=1)
    if not found:
        raise RuntimeError("the milvus template has no etcd section")
    return text


def prompt_template(template: str) -> str:
    """The template with the server's periods shortened (PROMPT_VALUES, PROMPT_ADDED)."""
    for key, value in PROMPT_VALUES.items():
        template, found = re.subn(rf"(?m)^(\s+{key}:).*$", rf"\g<1> {value}", template)
        if found != 1:
            raise RuntimeError(f"the milvus template sets {key} {found} times")
    for section, lines in PROMPT_ADDED.items():
        added = "".join(f"  {line}\n" for line in lines)
        template, found = re.subn(rf"(?m)^{section}:\n", f"{section}:\n{added}", template)
        if found != 1:
            raise RuntimeError(f"the milvus template has {found} {section} sections")
    return template


def _serve(folder: Path, ports: dict[str, int], test_pace: bool) -> int:
    """The launcher: writes the template and etcd's config, runs the server and waits for it to exit."""
    import milvus
    from milvus import MilvusServer, MilvusServerConfig

    etcd = folder / "etcd.yaml"
    client_url = f"http://127.0.0.1:{ports['etcd_port']}"
    peer_url = f"http://127.0.0.1:{ports['etcd_peer_port']}"
    etcd.write_text(
        f"name: viewfinder-test\nlisten-client-urls: {client_url}\nadvertise-client-urls: {client_url}\n"
        f"listen-peer-urls: {peer_url}\ninitial-advertise-peer-urls: {peer_url}\n"
        f"initial-cluster: viewfinder-test={peer_url}\n"
    )
    template = folder / "milvus.yaml.template"
    text = loopback_template(MilvusServerConfig().template_text, etcd)
    template.write_text(prompt_template(text) if test_pace else text)
    settings = {key: ports[key] for key in LAUNCHER_PORTS}
    config = MilvusServerConfig(template=str(template), data_dir=str(folder / "server"), **settings)
    # Set only for the packaged template (a bug of the launcher); the glog settings are the package's.
    config.glog_conf_file = str(Path(milvus.__file__).parent / "data" / "glog.conf")
    for name in BRIDGED_PORTS:  # inside the namespace: its socket files lead to its loopback ports
        unix_to_tcp(str(folder / f"{name}.sock"), ports[name])
    server = MilvusServer(config, wait_for_started=False)
    server.webservice_port = ports["metrics_port"]  # the first free port from here serves /healthz
    # Stopped by a TERM: kills the server and stays to reap it rather than leave a zombie.
    signal.signal(signal.SIGTERM, lambda *_: server.server_proc.kill())
    server.start()
    return server.server_proc.wait()


if __name__ == "__main__":
    sys.exit(_serve(Path(sys.argv[1]), json.loads(sys.argv[2]), sys.argv[3:] == ["test-pace"]))
