"""The collector table's hand-over order: a Scrape field is set before any collector reads it."""

from __future__ import annotations

import pytest

from galera_exporter.collectors import COLLECTORS, CollectorSpec, check_order
from galera_exporter.collectors.base import Scrape


def spec(name: str, produces: set[str] = set(), needs: set[str] = set()) -> CollectorSpec:  # noqa: B006
    return CollectorSpec(
        name,
        True,
        "test",
        lambda config: None,  # type: ignore[arg-type,return-value]
        produces=frozenset(produces),
        needs=frozenset(needs),
    )


def test_the_shipped_table_is_in_order() -> None:
    check_order(COLLECTORS)
    by_name = {s.name: s for s in COLLECTORS}
    # The consumers the scrape context was made for, so a lost declaration fails here.
    assert by_name["wsrep"].produces == {"server"}
    assert by_name["errorlog"].needs == {"server"}
    assert by_name["status_file"].needs == {"server"}


def test_a_consumer_before_its_producer_is_refused() -> None:
    with pytest.raises(ValueError, match="errorlog needs 'server' but no earlier"):
        check_order((spec("errorlog", needs={"server"}), spec("wsrep", produces={"server"})))


def test_moving_wsrep_after_its_consumers_is_refused() -> None:
    wsrep = next(s for s in COLLECTORS if s.name == "wsrep")
    moved = (*(s for s in COLLECTORS if s is not wsrep), wsrep)
    with pytest.raises(ValueError, match="needs 'server'"):
        check_order(moved)


def test_unknown_fields_and_two_producers_are_refused() -> None:
    with pytest.raises(ValueError, match="'log_error' is not a Scrape field"):
        check_order((spec("x", needs={"log_error"}),))
    with pytest.raises(ValueError, match="produced by both a and b"):
        check_order((spec("a", produces={"server"}), spec("b", produces={"server"})))


def test_a_disabled_producer_leaves_the_field_none() -> None:
    # Consumers must cope with None (wsrep disabled or mysqld down): the default is None.
    assert Scrape(deadline=0.0).server is None
