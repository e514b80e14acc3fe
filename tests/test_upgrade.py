"""`viewfinder upgrade`: an index re-embedded with another model (32-d test:tiny to 64-d test:shapes) beside the
live one and swapped in while a server answers; a killed upgrade resumes without embedding anything twice;
images indexed meanwhile are in both; rollback, abort, the disk-space check and query models."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest
from cli_helpers import cli_command, cli_env, run_cli, run_cli_json, run_subprocess, write_colour_images
from PIL import Image
from service_helpers import start_server_process, wait_for

import viewfinder
from viewfinder.app import LiveIndex, library, upgrade
from viewfinder.search.encoding import TermEncoder
from viewfinder.search.query import Term
from viewfinder.serve.schemas import StatsOut, stats_json
from viewfinder.store import staging
from viewfinder.store.indexdir import IndexDir

OLD, NEW = "test:tiny", "test:shapes"  # 32 and 64 dimensions
QUERY = {"query": "a red circle", "top_k": 5, "min_relevance": 0}


@pytest.fixture
def tiny_index(tmp_path: Path) -> Path:
    """A test:tiny index of 40 sample pictures."""
    library.make_sample(tmp_path / "photos", 40, seed=3)
    index = tmp_path / "index"
    library.update(index, [str(tmp_path / "photos")], model=OLD)
    return index


def one_error_line(err: str) -> bool:
    """Whether stderr holds one error line (a first use of a test model may add a note of its ONNX export)."""
    return [line for line in err.splitlines() if not line.startswith("viewfinder: exporting")] == [
        err.splitlines()[-1]
    ] and err.splitlines()[-1].startswith("viewfinder: error: ")


def answer_of(index: Path) -> list[tuple[str, float]]:
    """The ids and similarities of QUERY's answer from the index on disk now, through the Python API."""
    with viewfinder.open_index(str(index)) as engine:
        answer = engine.search([Term(text=QUERY["query"])], k=QUERY["top_k"], min_relevance=0)
    # Rounded as the HTTP API rounds it first (6 decimals), so that both read alike at a boundary (0.03455).
    return [(str(hit.image.id), round(round(hit.similarity, 6), 4)) for hit in answer.hits]


def served(body: dict) -> list[tuple[str, float]]:
    return [(str(result["image_id"]), round(result["similarity"], 4)) for result in body["results"]]


class QueryLoop:
    """Asks the server QUERY over and over on a thread, recording every answer in order and every failure."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.answers: list[list[tuple[str, float]]] = []
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> QueryLoop:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def _run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=60) as http:
            for _ in range(50_000):  # bounded, so a stuck test cannot loop forever
                if self._stop.is_set():
                    return
                try:
                    response = http.post("/search", json=QUERY)
                except httpx.HTTPError as error:
                    self.failures.append(repr(error))
                    continue
                if response.status_code == 200:
                    self.answers.append(served(response.json()))
                else:
                    self.failures.append(f"{response.status_code} {response.text[:200]}")


@pytest.mark.slow  # a server process and two CLI processes
def test_upgrade_swaps_models_under_load_with_no_failed_request_and_rollback_restores(tiny_index: Path):
    old = answer_of(tiny_index)
    with start_server_process(tiny_index) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert client.get("/stats").json()["dim"] == 32
        with QueryLoop(url) as loop:
            wait_for(lambda: len(loop.answers) >= 5, what="answers before the upgrade")
            done = run_subprocess("upgrade", "--model", NEW, "--index", tiny_index, "--json")
            assert done.returncode == 0, done.stderr
            new = answer_of(tiny_index)
            wait_for(lambda: loop.answers[-1] == new, timeout=60, what="the server to answer with the new model")
        assert loop.failures == []
        assert new != old
        # The old model's answers until the swap, the new model's after it: never a mix, never back.
        first_new = loop.answers.index(new)
        assert first_new > 0 and set(map(tuple, loop.answers[:first_new])) == {tuple(old)}
        assert set(map(tuple, loop.answers[first_new:])) == {tuple(new)}
        stats = client.get("/stats").json()
        assert (stats["model"], stats["dim"], stats["previous_model"], stats["upgrade"]) == (NEW, 64, OLD, None)

        rolled = run_subprocess("upgrade", "--rollback", "--index", tiny_index)
        assert rolled.returncode == 0, rolled.stderr
        wait_for(lambda: client.get("/stats").json()["model"] == OLD, what="the server to follow the rollback")
        assert served(client.post("/search", json=QUERY).json()) == old
        assert client.get("/stats").json()["previous_model"] == NEW
    report = upgrade_report(done)
    assert (report["model"], report["previous_model"], report["dim"]) == (NEW, OLD, 64)
    assert (report["images"], report["embedded"], report["reused"]) == (40, 40, 0)


def upgrade_report(completed: subprocess.CompletedProcess) -> dict:
    import json

    return json.loads(completed.stdout)


def staged_vectors(index: Path) -> int:
    """How many images the staged upgrade has a new vector for (0 before its catalog is copied)."""
    try:
        with sqlite3.connect(f"file:{index / '.upgrade' / 'catalog.sqlite'}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.mark.slow  # kills an upgrade subprocess and resumes it
def test_kill_9_mid_upgrade_resumes_without_embedding_again(tmp_path: Path, capsys):
    photos, index = tmp_path / "photos", tmp_path / "index"
    write_colour_images(photos, 300, seed=5)
    library.update(index, [str(photos)], model=OLD)
    process = subprocess.Popen(
        cli_command("upgrade", "--model", NEW, "--index", index, "--batch-size", "4", "--workers", "1"),
        env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None and staged_vectors(index) < 12:
        time.sleep(0.02)
    assert process.poll() is None, "the upgrade finished before it could be killed; make the library larger"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    done = staged_vectors(index)
    assert 12 <= done < 300

    info = run_cli_json(capsys, "info", "--index", index)
    assert info["model"] == OLD and info["upgrade"]["model"] == NEW and info["upgrade"]["running"] is False
    assert info["upgrade"]["done"] <= done  # written after each commit: never ahead of the catalog
    report = run_cli_json(capsys, "upgrade", "--model", NEW, "--index", index)
    assert report["reused"] >= done and report["embedded"] <= 300 - done
    assert report["reused"] + report["embedded"] == report["images"] == 300
    assert run_cli_json(capsys, "info", "--index", index)["model"] == NEW
    assert len(answer_of(index)) == 5


def test_images_indexed_during_an_upgrade_are_in_both_models(tiny_index: Path):
    """An `index` run after the upgrade's first batch adds three pictures, replaces one the upgrade has
    embedded already and deletes one it has not reached: the final pass embeds the three and the replaced
    one (again), and never the deleted one."""
    photos = tiny_index.parent / "photos"
    with sqlite3.connect(tiny_index / "catalog.sqlite") as db:
        paths = [Path(row[0]) for row in db.execute("SELECT path FROM images ORDER BY id")]
    replaced, deleted = paths[0], paths[-1]
    added: list[Path] = []

    def index_meanwhile(done: int, total: int) -> None:
        if done >= 8 and not added:
            added.extend(write_colour_images(photos / "new", 3, seed=9))
            Image.new("RGB", (90, 60), (250, 10, 10)).save(replaced)
            deleted.unlink()
            report = library.update(tiny_index, [str(photos)])
            assert (report.added, report.updated, report.removed) == (3, 1, 1)

    report = upgrade.upgrade(tiny_index, NEW, batch_size=8, progress=index_meanwhile)
    assert added and report.images == 42 and report.embedded == 40 - 1 + 3 + 1
    names = {path.name for path in added}
    with viewfinder.open_index(str(tiny_index)) as new, viewfinder.open_index(str(tiny_index / ".previous")) as old:
        assert (new.manifest.model, old.manifest.model) == (NEW, OLD)
        for engine in (new, old):
            hits = engine.search([Term(text="anything")], k=100, min_relevance=0).hits
            found = {hit.image.file_name for hit in hits}
            assert len(hits) == 42 and names <= found and deleted.name not in found
        # The replaced picture's row in the new index is the replacing file's (embedded again: see `embedded`).
        [row] = [
            image for image in new.catalog.images(new.catalog.ids_matching()).values() if image.path == str(replaced)
        ]
        assert (row.size, row.width) == (replaced.stat().st_size, 90)


class Stop(Exception):
    pass


def test_a_stopped_upgrade_shows_in_info_and_abort_drops_it(tiny_index: Path, capsys):
    def stop(done: int, total: int) -> None:
        if done >= 8:
            raise Stop

    live = LiveIndex(tiny_index, device="cpu")
    try:
        assert live.info().upgrade is None  # the summary is kept per generation; the upgrade's part is read anew
        with pytest.raises(Stop):
            upgrade.upgrade(tiny_index, NEW, batch_size=8, progress=stop)
        stats = StatsOut.model_validate(stats_json(live.info()))
        assert stats.model == OLD and stats.upgrade is not None
        assert (stats.upgrade.model, stats.upgrade.done, stats.upgrade.running) == (NEW, 8, False)
    finally:
        live.close()
    info = run_cli_json(capsys, "info", "--index", tiny_index)
    assert info["model"] == OLD and info["upgrade"]["done"] == 8 and info["upgrade"]["total"] == 40
    code, out, _ = run_cli(capsys, "info", "--index", tiny_index)
    assert code == 0 and f"to {NEW}, embedding: 8/40 images, stopped" in out

    code, _, err = run_cli(capsys, "upgrade", "--model", "random:ViT-B-32", "--index", tiny_index)
    assert code == 2 and "half done" in err and one_error_line(err)
    assert run_cli_json(capsys, "upgrade", "--abort", "--index", tiny_index)["model"] == NEW
    assert not (tiny_index / ".upgrade").exists()
    assert run_cli_json(capsys, "info", "--index", tiny_index)["upgrade"] is None
    code, _, err = run_cli(capsys, "upgrade", "--abort", "--index", tiny_index)
    assert code == 2 and "No upgrade" in err


def test_an_upgrade_that_would_not_fit_on_the_disk_is_refused_before_it_starts(tiny_index: Path, capsys, monkeypatch):
    real = upgrade.shutil.disk_usage(tiny_index)
    monkeypatch.setattr(upgrade.shutil, "disk_usage", lambda path: real._replace(free=64 * 1024))
    code, out, err = run_cli(capsys, "upgrade", "--model", NEW, "--index", tiny_index)
    assert code == 2 and out == "" and one_error_line(err)
    assert "needs about" in err and "0.1 MB" in err
    assert not (tiny_index / ".upgrade").exists()


def test_rollback_needs_a_kept_model_and_upgrading_to_the_same_model_is_refused(tiny_index: Path, capsys):
    code, _, err = run_cli(capsys, "upgrade", "--rollback", "--index", tiny_index)
    assert code == 2 and "nothing to roll back to" in err and one_error_line(err)
    code, _, err = run_cli(capsys, "upgrade", "--model", OLD, "--index", tiny_index)
    assert code == 2 and "already built with test:tiny" in err
    nowhere = tiny_index.parent / "no-index"
    for action in (("--model", NEW), ("--rollback",), ("--abort",)):
        code, _, err = run_cli(capsys, "upgrade", *action, "--index", nowhere)
        assert code == 2 and f"No index at {nowhere}" in err and one_error_line(err)
    assert not nowhere.exists()


def test_a_query_model_the_upgrade_leaves_unaligned_is_said_so(tiny_index: Path, capsys):
    code, _, err = run_cli(capsys, "upgrade", "--model", NEW, "--index", tiny_index, "--query-model", "test:mclip-tiny")
    assert code == 2 and one_error_line(err)
    assert "aligned with test:tiny, not test:shapes" in err and "--drop-query-model" in err
    assert not (tiny_index / ".upgrade").exists()
    dropped = run_cli_json(
        capsys,
        "upgrade",
        "--model",
        NEW,
        "--index",
        tiny_index,
        "--query-model",
        "test:mclip-tiny",
        "--drop-query-model",
    )
    assert dropped["model"] == NEW
    # A server using it drops it at the swap, and encodes text with the new model.
    encoder = TermEncoder(OLD, "old", 32, query_model="test:mclip-tiny")
    assert encoder.for_index(NEW, "new", 64, lambda spec: None).query_model is None
    assert encoder.for_index(OLD, "old", 32, lambda spec: None).query_model == "test:mclip-tiny"


@pytest.mark.slow  # a server on a thread running an upgrade job
def test_the_admin_upgrade_job_swaps_the_served_model(tiny_index: Path):
    from service_helpers import ADMIN_TOKEN, start_server_thread

    from viewfinder.serve.app import create_app

    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    app = create_app(tiny_index, device="cpu", admin_token=ADMIN_TOKEN, poll_seconds=0.1)
    with start_server_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        assert client.post("/admin/upgrade", json={"model": NEW}).status_code == 401
        assert client.get("/admin/upgrade", headers=admin).json() == {"success": True, "job": None}
        started = client.post("/admin/upgrade", json={"model": NEW}, headers=admin)
        assert started.status_code == 202 and started.json()["job"]["model"] == NEW

        def job() -> dict:
            return client.get("/admin/upgrade", headers=admin).json()["job"]

        wait_for(lambda: job()["state"] != "running", timeout=120, what="the upgrade job")
        assert job()["state"] == "done" and job()["report"]["embedded"] == 40, job()["error"]
        stats = client.get("/stats").json()
        assert (stats["model"], stats["dim"], stats["previous_model"]) == (NEW, 64, OLD)
        assert served(client.post("/search", json=QUERY).json()) == answer_of(tiny_index)

        client.post("/admin/upgrade", json={"model": "test:no-such-model"}, headers=admin)
        wait_for(lambda: job()["state"] != "running", timeout=60, what="the failing upgrade job")
        assert job()["state"] == "failed" and "test:no-such-model" in job()["error"]
        assert client.get("/stats").json()["model"] == NEW


@pytest.mark.slow  # SeaweedFS
def test_an_upgraded_index_is_published_and_a_snapshot_follower_swaps_to_its_model(
    seaweed, tmp_path, request, monkeypatch
):
    from snapshot_helpers import bucket_name, own_bucket, publish_library

    from viewfinder.app.snapshot_live import SnapshotLiveIndex
    from viewfinder.store.snapshots import publish

    monkeypatch.setenv("VIEWFINDER_SNAPSHOT_CACHE", str(tmp_path / "snapshot-cache"))
    with own_bucket(seaweed, bucket_name(request.node.name, "upgrade")) as bucket:
        url, index, _, _ = publish_library(tmp_path, bucket)
        live = SnapshotLiveIndex(url, device="cpu", poll_seconds=0.05)
        try:
            assert (live.info().model, live.info().dim) == (OLD, 32)
            upgrade.upgrade(index, NEW)
            second = publish(index, url)
            wait_for(lambda: live.refresh() or live.version == second, what="the upgraded snapshot")
            assert (live.info().model, live.info().dim, live.info().images) == (NEW, 64, 12)
            with live.index() as engine:
                assert len(engine.search("a red circle", k=5, min_relevance=0).hits) == 5
        finally:
            live.close()


class Killed(BaseException):
    """Stands for the process dying between two renames of a swap."""


# Renames of a swap of N files: the journal, N files out, the journal again, N files in.
@pytest.mark.parametrize("stop", ["moving out", "between", "moving in"])
def test_a_swap_stopped_half_way_is_finished_by_check_repair(tiny_index: Path, capsys, monkeypatch, stop):
    old = answer_of(tiny_index)
    upgrade.upgrade(tiny_index, NEW)
    files = len(staging.generation_files(tiny_index))
    renames = {"moving out": 3, "between": files + 2, "moving in": files + 4}[stop]
    real_replace, calls = staging.os.replace, []

    def dies(source, target) -> None:
        calls.append(source)
        if len(calls) == renames:
            raise Killed
        real_replace(source, target)

    monkeypatch.setattr(staging.os, "replace", dies)
    with pytest.raises(Killed):
        upgrade.rollback_model(tiny_index)
    monkeypatch.setattr(staging.os, "replace", real_replace)

    code, out, err = run_cli(capsys, "search", "a red circle", "--index", tiny_index)
    assert code == 2 and "stopped half way" in err and "check --repair" in err and one_error_line(err)
    code, out, err = run_cli(capsys, "check", "--repair", "--index", tiny_index)
    assert code == 0 and "Finished the model swap" in out, out + err
    assert run_cli_json(capsys, "info", "--index", tiny_index)["model"] == OLD
    assert answer_of(tiny_index) == old
    assert IndexDir(tiny_index / ".previous").read_manifest().model == NEW


@pytest.mark.slow  # Milvus Lite
def test_an_index_in_milvus_lite_is_upgraded_into_a_new_collection_and_rolled_back(tmp_path: Path):
    from milvus_lite import server_manager_instance

    library.make_sample(tmp_path / "photos", 20, seed=4)
    index = tmp_path / "index"
    library.update(index, [str(tmp_path / "photos")], model=OLD, store="milvus")
    old = answer_of(index)
    try:
        report = upgrade.upgrade(index, NEW)
        assert (report.images, report.embedded) == (20, 20)
        manifests = [IndexDir(folder).read_manifest() for folder in (index, index / ".previous")]
        assert [(m.model, m.dim) for m in manifests] == [(NEW, 64), (OLD, 32)]
        assert manifests[0].store == manifests[1].store  # the same Milvus Lite database, another collection
        assert manifests[0].store_collection != manifests[1].store_collection
        assert len(answer_of(index)) == 5 and answer_of(index) != old
        assert upgrade.rollback_model(index) == OLD
        assert answer_of(index) == old
    finally:
        server_manager_instance.release_all()
