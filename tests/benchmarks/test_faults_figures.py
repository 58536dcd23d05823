"""The fault benchmark's figures from what its clients recorded: plain functions, no processes."""

from __future__ import annotations

from benchmarks.faults import (
    BattleSeen,
    Fault,
    Request,
    fault_figures,
    first_success_after,
    in_flight,
    screen_choice,
    tally,
    vote_expected,
)


def test_tally_counts_each_acknowledged_key_once_as_stored_lost_or_changed():
    acknowledged = {"kept": "a", "lost": "b", "changed": "tie", "twice": "a"}
    stored = {"kept": ["a"], "changed": ["b"], "twice": ["a", "a"], "extra": ["b"], "empty": []}

    figures = tally(acknowledged, stored)

    assert figures["acknowledged"] == 4
    assert figures["stored"] == 4  # kept, changed, twice, extra
    assert figures["lost"] == 1
    assert figures["doubled"] == 1
    assert figures["changed"] == 1
    assert figures["stored_unacknowledged"] == 1
    assert figures["samples"] == {"lost": ["lost"], "doubled": ["twice"], "changed": ["changed"]}


def test_tally_of_everything_stored_as_acknowledged_finds_nothing_wrong():
    acknowledged = {1: "left", 2: "right"}

    figures = tally(acknowledged, {1: ["left"], 2: ["right"], 3: []})

    assert (figures["lost"], figures["doubled"], figures["changed"], figures["stored_unacknowledged"]) == (0, 0, 0, 0)
    assert figures["stored"] == 2


def test_a_vote_is_expected_stored_with_both_bad_as_a_flagged_tie():
    assert vote_expected("a") == ("a", False)
    assert vote_expected("tie") == ("tie", False)
    assert vote_expected("both_bad") == ("tie", True)


def test_the_screen_side_follows_the_order_the_annotator_was_shown():
    assert screen_choice("a", [0, 1]) == "left"
    assert screen_choice("a", [1, 0]) == "right"
    assert screen_choice("b", [1, 0]) == "left"
    assert screen_choice("b", [0, 1]) == "right"
    assert screen_choice("tie", [1, 0]) == "tie"


def test_unavailability_counts_only_successes_started_after_the_fault():
    successes = [(9.0, 12.0), (10.5, 11.0), (14.0, 14.5)]

    assert first_success_after(10.0, successes) == 1.0
    assert first_success_after(15.0, successes) is None


def test_a_battle_is_in_flight_when_submitted_before_the_fault_and_seen_to_end_after_it():
    before_done = BattleSeen(visitor=0, public_id="done", submitted=1.0, ended=4.0, state="ready")
    flying = BattleSeen(visitor=1, public_id="flying", submitted=3.0, ended=30.0, state="failed")
    later = BattleSeen(visitor=2, public_id="later", submitted=6.0, ended=8.0, state="ready")

    assert in_flight(5.0, [before_done, flying, later]) == [flying]


def test_a_fault_row_has_the_longest_wait_and_the_5xx_only_once_it_was_back():
    fault = Fault(name="postgres", at=10.0, back=13.0)
    requests = [
        Request("POST /arena/", 11.0, 12.0, 500),  # while it was down
        Request("POST /arena/", 13.5, 13.6, 500),  # within the first second after it came back
        Request("GET /arena/", 14.5, 14.6, 502),  # later: counted
        Request("GET /arena/", 15.0, 15.1, 200),
        Request("GET /arena/", 40.0, 40.1, 500),  # after the next fault began
    ]
    battles = [
        BattleSeen(visitor=0, public_id="x", submitted=9.0, ended=31.0, state="failed"),
        BattleSeen(visitor=1, public_id="y", submitted=9.5, ended=12.0, state="ready"),
        BattleSeen(visitor=2, public_id="z", submitted=16.0, ended=18.0, state="ready"),
    ]

    row = fault_figures(fault, 35.0, requests, battles, [(15.5, 16.0)])

    assert row["in_flight"] == 2
    assert row["in_flight_failed"] == 1
    assert row["longest_wait_s"] == 21.0
    assert row["5xx_after_back"] == 1
    assert row["5xx_after_back_by_endpoint"] == {"GET /arena/": 1}
    assert row["first_success_s"] == {"http": 5.1, "battle": 8.0, "submit": 6.0}
    assert row["unavailable_s"] == 8.0
