"""A text tower's two sessions: the two-thread one answers as the one-thread one does, and a query takes it only
when a second core is free at that moment and no other query of the tower is running."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from viewfinder.models import onnx_sessions
from viewfinder.models.onnx_runtime import OnnxEmbedder
from viewfinder.models.onnx_sessions import TextSessions, free_cores
from viewfinder.models.registry import resolve_model

TEXTS = ["a red circle", "a photo of a dog on a beach at sunset", "x"]


class Recorded:
    """A real session that notes each run, and can hold one until told to go on."""

    def __init__(self, session: object) -> None:
        self.session = session
        self.runs = 0
        self.started = threading.Event()
        self.go_on = threading.Event()
        self.go_on.set()

    def get_inputs(self) -> object:
        return self.session.get_inputs()  # type: ignore[attr-defined]

    def run(self, *args: object) -> object:
        self.runs += 1
        self.started.set()
        self.go_on.wait(30)
        return self.session.run(*args)  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def tower() -> tuple[Path, np.ndarray]:
    embedder = OnnxEmbedder(resolve_model("test:tiny"))
    tokens = embedder.tokenizer(TEXTS, trim=embedder.trimmed_text)
    return embedder.tower_file("text"), tokens


def sessions_with_pair(path: Path, free: int, monkeypatch: pytest.MonkeyPatch) -> TextSessions:
    monkeypatch.setattr(onnx_sessions, "usable_cores", lambda: 2)  # whatever CI's machine has
    sessions = TextSessions(path, free=lambda: free)
    sessions.add_pair()
    sessions.single, sessions.pair = Recorded(sessions.single), Recorded(sessions.pair)
    return sessions


@pytest.mark.parametrize(("loadavg", "running"), [("0.52 0.58 0.59 1/467 8123\n", 1), ("3.1 2.0 1.5 3/512 99\n", 3)])
def test_free_cores_are_the_usable_ones_less_the_running_tasks(
    tmp_path: Path, loadavg: str, running: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(onnx_sessions, "usable_cores", lambda: 2)
    (tmp_path / "loadavg").write_text(loadavg)
    assert free_cores(tmp_path / "loadavg") == max(0, 2 - running)


def test_free_cores_are_none_where_the_kernel_does_not_say(tmp_path: Path) -> None:
    assert free_cores(tmp_path / "absent") == 0
    (tmp_path / "loadavg").write_text("garbled")
    assert free_cores(tmp_path / "loadavg") == 0


def test_a_free_core_runs_the_pair_and_it_answers_as_one_thread_does(
    tower: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, tokens = tower
    free = sessions_with_pair(path, 1, monkeypatch)
    two_threads = free.run(tokens)
    busy = sessions_with_pair(path, 0, monkeypatch)
    one_thread = busy.run(tokens)
    assert (free.pair.runs, free.single.runs) == (1, 0)
    assert (busy.pair.runs, busy.single.runs) == (0, 1)
    np.testing.assert_allclose(two_threads, one_thread, atol=1e-5)


def test_a_query_beside_a_running_one_takes_one_thread(
    tower: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, tokens = tower
    sessions = sessions_with_pair(path, 1, monkeypatch)
    sessions.pair.go_on.clear()  # the first query holds the pair
    first = threading.Thread(target=sessions.run, args=(tokens,))
    first.start()
    assert sessions.pair.started.wait(30)
    sessions.run(tokens)
    sessions.pair.go_on.set()
    first.join(30)
    assert (sessions.pair.runs, sessions.single.runs) == (1, 1)


def test_one_core_makes_no_pair(tower: tuple[Path, np.ndarray], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(onnx_sessions, "usable_cores", lambda: 1)
    sessions = TextSessions(tower[0], free=lambda: 1)
    sessions.add_pair()
    assert sessions.pair is None
