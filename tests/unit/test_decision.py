"""galera_exporter.decision on its own: the tie-break and node-state edges (the rules' side of
the same cases is rules/tests/recording.yml; generated agreement is tests/rules)."""

from __future__ import annotations

import pytest

from galera_exporter.decision import NodeFacts, decide, node_state

UUID = "125a32e7-ea40-11f1-8844-577ec5e07595"


def stopped(name: str, seqno: int, key: float | None, safe: bool = False) -> NodeFacts:
    return NodeFacts(
        name=name,
        mysql_up=False,
        mysql_error="refused",
        gvwstate_present=False,
        sst_in_progress=False,
        grastate_uuid=UUID,
        grastate_seqno=seqno,
        safe_to_bootstrap=safe,
        tiebreak_key=key,
    )


@pytest.mark.parametrize(
    ("keys", "named"),
    [((7, 5), "node2"), ((5, 5), None), ((None, None), None), ((None, 3), "node2")],
)
def test_a_tie_goes_to_the_lowest_key_and_only_to_one(
    keys: tuple[float | None, float | None], named: str | None
) -> None:
    decision = decide([stopped("node1", 30, keys[0]), stopped("node2", 30, keys[1])])
    assert decision.scenario == "crashed"
    assert decision.candidate == named
    assert decision.force is True


def test_a_single_most_advanced_node_needs_no_key() -> None:
    decision = decide([stopped("node1", 30, None), stopped("node2", 31, None)])
    assert (decision.candidate, decision.force) == ("node2", True)


def test_safe_node_behind_a_proven_position_is_not_named() -> None:
    decision = decide([stopped("node1", 30, 1), stopped("node2", 20, 2, safe=True)])
    assert decision.scenario == "stopped"
    assert decision.candidate is None


@pytest.mark.parametrize(
    ("facts", "state"),
    [
        (NodeFacts("n", scraped=False), "unobservable"),
        (NodeFacts("n", mysql_up=False), "unobservable"),  # no reason given: never "down"
        (NodeFacts("n", mysql_up=False, mysql_error="timeout"), "unobservable"),
        (NodeFacts("n", mysql_up=False, mysql_error="auth"), "no_access"),
        (NodeFacts("n", mysql_up=False, mysql_error="refused"), "down"),
        (NodeFacts("n", mysql_up=False, mysql_error="refused", gvwstate_present=True), "crashed"),
        (
            NodeFacts("n", mysql_up=False, mysql_error="refused", sst_in_progress=True),
            "joining",
        ),
        (NodeFacts("n", mysql_up=True, cluster_status="non-Primary"), "non_primary"),
        (NodeFacts("n", mysql_up=True, cluster_status="Primary"), "primary"),
    ],
)
def test_node_state(facts: NodeFacts, state: str) -> None:
    assert node_state(facts) == state
