"""A server's text query takes a second thread only when a core is free for it (models.text_threads), from a
second session that shares the tower's mapped weights and gives the same vectors."""

from __future__ import annotations

import gc
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from viewfinder.models import onnx_runtime, text_threads
from viewfinder.models.onnx_runtime import OnnxEmbedder
from viewfinder.models.registry import resolve_model
from viewfinder.models.text_threads import SpareThreadSession, running_tasks

TEXTS = ["a photo of a dog", "a red bicycle leaning against a brick wall in the rain", "x"]


def loadavg(tmp_path: Path, running: int) -> Path:
    path = tmp_path / "loadavg"
    path.write_text(f"0.52 0.61 0.70 {running}/312 48213\n")
    return path


def test_the_running_tasks_are_read_from_the_kernels_count(tmp_path):
    path = loadavg(tmp_path, 3)
    with path.open() as opened:
        assert running_tasks(opened.fileno()) == 3
        path.write_text("0.1 0.2 0.3 1/312 4\n")  # read afresh each time, as /proc/loadavg is made afresh
        assert running_tasks(opened.fileno()) == 1
    with Path("/proc/loadavg").open() as kernels:
        assert running_tasks(kernels.fileno()) >= 1  # this thread is running


@pytest.mark.parametrize("text", ["", "0.1 0.2", "0.1 0.2 0.3 many/312 4"])
def test_a_count_that_cannot_be_read_is_none(tmp_path, text):
    path = tmp_path / "loadavg"
    path.write_text(text)
    with path.open() as opened:
        assert running_tasks(opened.fileno()) is None


@pytest.fixture
def machine(tmp_path, monkeypatch) -> Path:
    """The kernel's count of running tasks, as this test sets it; read once per query (no rereading)."""
    path = loadavg(tmp_path, 1)
    monkeypatch.setattr(text_threads, "LOADAVG", path)
    monkeypatch.setattr(text_threads, "RECHECK_SECONDS", 0.0)
    return path


def test_the_session_is_lent_to_one_query_at_a_time_and_only_while_a_core_is_free(machine):
    spare = SpareThreadSession("two-thread session", cores=2)
    with spare.lend() as first:
        assert first == "two-thread session"
        with spare.lend() as second:  # another query meanwhile runs on one thread
            assert second is None
    machine.write_text("1.0 1.0 1.0 2/312 1\n")
    with spare.lend() as busy:
        assert busy is None
    machine.write_text("1.0 1.0 1.0 1/312 1\n")
    with spare.lend() as freed:
        assert freed == "two-thread session"


def test_a_task_seen_running_is_read_again_before_the_query_settles_for_one_thread(machine, monkeypatch):
    counts = iter([2, 2, 1])
    monkeypatch.setattr(text_threads, "running_tasks", lambda loadavg: next(counts))
    monkeypatch.setattr(text_threads, "RECHECK_SECONDS", 10.0)
    with SpareThreadSession("two-thread session", cores=2).lend() as session:
        assert session == "two-thread session"
    assert next(counts, "all read") == "all read"


def test_where_the_count_cannot_be_opened_no_core_is_free(machine, monkeypatch):
    monkeypatch.setattr(text_threads, "LOADAVG", machine.parent / "no-such-file")
    with SpareThreadSession("two-thread session", cores=2).lend() as session:
        assert session is None


@pytest.fixture
def server_process(machine, tmp_path, monkeypatch) -> Path:
    """This process as `viewfinder serve` sets it up (text_threads.use_free_cores) on two cores, with a model
    cache of its own: the mapped form made here reaches no other test."""
    monkeypatch.setenv("VIEWFINDER_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(text_threads, "usable_cores", lambda: 2)
    text_threads.use_free_cores()
    return machine


def test_a_servers_text_tower_runs_on_two_threads_when_a_core_is_free_with_the_same_vectors(
    server_process, monkeypatch
):
    spec = resolve_model("test:tiny")
    embedder = OnnxEmbedder(spec, int8=True)
    embedder.load_text_tower()
    pair = embedder._spare_thread
    assert pair is not None and pair.session.get_session_options().intra_op_num_threads == 2
    ran = []
    run = onnx_runtime.run_tower
    monkeypatch.setattr(onnx_runtime, "run_tower", lambda session, batch: ran.append(session) or run(session, batch))

    on_two = embedder.encode_texts(TEXTS)
    server_process.write_text("2.0 2.0 2.0 2/312 1\n")  # the other core busy: one thread
    on_one = embedder.encode_texts(TEXTS)

    assert ran[0] is pair.session and ran[1] is not pair.session
    np.testing.assert_allclose(on_two, on_one, atol=1e-6)
    # Both sessions read the tower's weights mapped from one file, made for them beside the tower.
    weights = Path(str(embedder.tower_file("text")).removesuffix(".onnx") + ".mapped.weights")
    mapped = [line for line in Path("/proc/self/maps").read_text().splitlines() if line.endswith(str(weights))]
    assert weights.is_file() and mapped


def test_concurrent_queries_share_the_two_thread_session_out_one_at_a_time(server_process, monkeypatch):
    embedder = OnnxEmbedder(resolve_model("test:tiny"), int8=True)
    expected = embedder.encode_texts(TEXTS[:1])
    holding, running = threading.Lock(), []
    run = onnx_runtime.run_tower

    def counted(session, batch):
        with holding:
            running.append(session is embedder._spare_thread.session)
        return run(session, batch)

    monkeypatch.setattr(onnx_runtime, "run_tower", counted)
    with embedder._spare_thread.lend():  # a query holds the pair: the others run on one thread
        results = []
        threads = [threading.Thread(target=lambda: results.append(embedder.encode_texts(TEXTS[:1]))) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert running == [False] * 4
    for result in results:
        np.testing.assert_allclose(result, expected, atol=1e-6)


def test_where_the_kernel_counts_no_tasks_a_server_keeps_one_session(server_process, monkeypatch):
    monkeypatch.setattr(text_threads, "LOADAVG", server_process.parent / "no-such-file")  # as on macOS
    embedder = OnnxEmbedder(resolve_model("test:tiny"), int8=True)
    embedder.load_text_tower()
    assert embedder._spare_thread is None


def test_a_one_off_search_keeps_one_session(tmp_path, monkeypatch):
    monkeypatch.setenv("VIEWFINDER_CACHE", str(tmp_path / "cache"))
    embedder = OnnxEmbedder(resolve_model("test:tiny"), int8=True)
    embedder.load_text_tower()
    assert embedder._spare_thread is None
    assert not list(embedder.tower_file("text").parent.glob("*.mapped.*"))


def test_the_kernels_count_is_closed_with_the_session_that_read_it(machine):
    spare = SpareThreadSession("two-thread session", cores=2)
    descriptor = spare._loadavg
    assert descriptor is not None and os.fstat(descriptor)
    del spare
    gc.collect()
    with pytest.raises(OSError):
        os.fstat(descriptor)
