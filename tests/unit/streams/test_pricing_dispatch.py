"""Each kind finds its SKU and its Decimal pricing by its class; another meter's price is refused."""

from __future__ import annotations

import pytest

from bench.workload import events
from schemas.events import parse_event
from schemas.prices import ComputePrice
from streams.pricing import UnpriceableEventError, _apply, meter_sku
from tests.factories import event


def test_each_kind_s_meter_sku_is_the_field_it_is_priced_by() -> None:
    fleet = {e.kind: e for e in (parse_event(raw) for _, raw in events(400, span_s=600.0))}
    assert {kind: meter_sku(e) for kind, e in fleet.items()} == {
        "llm": fleet["llm"].model,  # type: ignore[union-attr]
        "tool": fleet["tool"].tool,  # type: ignore[union-attr]
        "embedding": "text-embedding-3-small",
        "vector_query": "pinecone",
        "compute": "fargate-1vcpu-2gb",
        "storage": "s3-standard",
        "human_review": "support-agent",
        "outcome": "ticket_resolved",
    }


def test_a_price_of_another_meter_cannot_price_an_event() -> None:
    price = ComputePrice(meter="compute", sku="sms", per_hour="1")  # type: ignore[arg-type]
    with pytest.raises(UnpriceableEventError, match="price for compute cannot price a tool event"):
        _apply(event("sms"), price, "v1")
