"""SnapStart: the Lambda handler's init runs once, when a version is published, and every execution environment
starts from its snapshot, maybe days later; the first invocation after a restore checks the published pointer
whatever the poll interval (the Lambda runtime calls the hooks registered with snapshot_restore_py)."""

from __future__ import annotations

import snapshot_restore_py

from viewfinder.serve import lambda_handler


class PointerChecks:
    """Stands for the handler's LiveIndex: counts the checks of the published pointer."""

    def __init__(self) -> None:
        self.checks = 0

    def refresh(self) -> bool:
        self.checks += 1
        return False


def test_the_first_invocation_after_a_restore_checks_the_pointer(monkeypatch):
    monkeypatch.setattr(snapshot_restore_py, "_after_restore_registry", [])
    live = PointerChecks()
    handler = lambda_handler._following(lambda event, context: "answered", live, 3600.0, "s3://b/indexes/main")  # type: ignore[arg-type]
    assert handler({}, None) == "answered" and live.checks == 0  # the next check is an hour away
    for hook, args, kwargs in snapshot_restore_py.get_after_restore():  # as the runtime does after a restore
        hook(*args, **kwargs)
    assert handler({}, None) == "answered" and live.checks == 1
    assert handler({}, None) == "answered" and live.checks == 1  # then every poll interval again
