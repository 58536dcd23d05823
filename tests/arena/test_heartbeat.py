"""The beat thread of a worker process: it outlives whatever one beat runs into."""

from __future__ import annotations

import threading

from arena import heartbeat


def test_an_unexpected_error_in_one_beat_does_not_end_the_beating(monkeypatch):
    calls: list[list[int]] = []
    second = threading.Event()

    def beat(*, answer_ids: list[int]) -> int:
        calls.append(answer_ids)
        if len(calls) == 1:
            raise RuntimeError("a bug in one beat")
        second.set()
        return len(answer_ids)

    monkeypatch.setattr(heartbeat, "BEAT_S", 0.0)
    monkeypatch.setattr(heartbeat, "answers_beat", beat)
    with heartbeat.beating(4242):
        # A bounded wait for the next beat, not a measure of time: the thread beats at once when BEAT_S is 0.
        assert second.wait(timeout=60), f"the thread stopped beating after {calls}"
    assert calls[:2] == [[4242], [4242]]
