"""An event_id is counted once per customer within the dedup horizon, through the real broker,
worker and ClickHouse: whatever its occurred_at or payload, after restarts and after a crash.

Amounts: stripe-lookup is $0.05 a call (prices/), so 3,000 calls are $150.00.
Events happened an hour ago, well inside the contract's occurred_at bounds.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from billing import store
from billing.invoices import BillingContext, draft
from billing.periods import Period
from costline.clickhouse import open_client
from costline.config import Settings
from costline.dev.harness import Pipeline
from costline.event_id import new_event_id
from schemas.events import UsageEvent
from schemas.plans import BillingFile
from schemas.prices import load_price_dir
from streams.aggregation import position
from streams.dedup import id_hashes
from streams.offset_commits import seed_committed_offsets
from streams.pricing import PriceCatalog
from streams.sinks.clickhouse_sink import LEDGER_COLUMNS, ledger_row
from tests.factories import event

ROOT = Path(__file__).resolve().parents[2]
AN_HOUR_AGO = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
PERIOD = Period.parse(AN_HOUR_AGO.strftime("%Y-%m"))


def lookups(customer: str, event_id: str, calls: int, at: datetime = AN_HOUR_AGO) -> UsageEvent:
    """The customer's billing agent looks up ``calls`` Stripe records: $0.05 each."""
    return event(event_id, customer=customer, agent="billing-agent", at=at, tool="stripe-lookup", calls=calls)


def republish_then_wait(p: Pipeline, repeat: UsageEvent, counted: int) -> None:
    """Publish ``repeat`` and, after it on the same partition, a marker; wait until the marker is in."""
    marker = lookups(repeat.customer_id, f"marker-{uuid.uuid4().hex}", calls=0)
    p.publish([repeat, marker], max_events=1)
    p.wait_for("SELECT count() FROM ledger WHERE event_id = {e:String}", 1, e=marker.event_id)
    p.wait_for(
        "SELECT sum(events) FROM cost_windows FINAL "
        "WHERE customer_id = {c:String} AND agent_id = '*' AND window_size = 3600",
        counted,
        c=repeat.customer_id,
    )


def draft_total(p: Pipeline, customer: str) -> Decimal:
    """The customer's draft invoice on a plan that passes cost through at no margin."""
    plan = {
        "plans": [{"plan": f"at-cost-{customer}", "version": "1", "charges": [
            {"kind": "pass_through", "description": "Usage cost", "margin": "0"}]}],
        "subscriptions": [{"customer_id": customer, "plan": f"at-cost-{customer}", "version": "1",
                           "starts_on": PERIOD.start.isoformat()}],
    }  # fmt: skip
    store.load(p.db, store.read_billing_file(ROOT / "plans" / "meters.json"))
    store.load(p.db, BillingFile.model_validate(plan))
    return draft(BillingContext.load(p.db), customer, PERIOD).total


def ledger(p: Pipeline, customer: str) -> list[tuple[str, int, Decimal]]:
    return p.rows(
        "SELECT event_id, toUInt64(quantity), cost FROM ledger FINAL "
        "WHERE customer_id = {c:String} AND agent_id = 'billing-agent' AND quantity > 0 ORDER BY event_id",
        c=customer,
    )


def test_the_server_hashes_ids_as_the_worker_does(services: Settings) -> None:
    pairs = [("acme", "req-81f3"), ("globex", "a'b\\c\"d"), ("ünï", "событие-1 🙂"), ("x" * 256, "y" * 256)]
    client = open_client(services, database="")
    sql = "SELECT xxHash64(concat({c:String}, '\\0', {e:String}))"
    server = [int(client.query(sql, parameters={"c": c, "e": e}).result_rows[0][0]) for c, e in pairs]
    assert server == id_hashes(pairs).tolist()


def test_a_repeat_after_the_old_ten_minute_window_with_a_later_time_is_counted_once(
    pipeline: Pipeline,
) -> None:
    pipeline.wait_until_ready()
    first = lookups("bluebird", "lookup-batch-1", calls=3000)
    pipeline.publish([first])
    pipeline.wait_for("SELECT count() FROM ledger WHERE customer_id = 'bluebird'", 1)
    # As if it was counted 11 minutes ago, and the worker restarted since.
    pipeline.db.command(
        "INSERT INTO event_ids SELECT * REPLACE (ingested_at - INTERVAL 11 MINUTE AS ingested_at) "
        "FROM event_ids WHERE customer_id = 'bluebird'"
    )
    pipeline.db.command(
        "DELETE FROM event_ids WHERE customer_id = 'bluebird' AND ingested_at > now64(3) - INTERVAL 10 MINUTE"
    )
    pipeline.kill_worker()
    pipeline.start_worker()
    pipeline.wait_until_ready()

    again = lookups("bluebird", "lookup-batch-1", calls=3050, at=AN_HOUR_AGO + timedelta(seconds=1))
    republish_then_wait(pipeline, again, counted=2)  # the lookups and the marker

    assert ledger(pipeline, "bluebird") == [("lookup-batch-1", 3000, Decimal("150"))]  # the first wins
    assert pipeline.customer_totals()["bluebird"] == Decimal("150")
    assert pipeline.windows_match_ledger()
    assert draft_total(pipeline, "bluebird") == Decimal("150.00")
    assert "dedup filter rebuilt from" in pipeline.worker_log()


def test_a_republished_id_is_dropped_by_a_running_worker_and_after_a_sigkill(pipeline: Pipeline) -> None:
    pipeline.wait_until_ready()
    pipeline.publish([lookups("corvid", "lookup-7", calls=20)])
    pipeline.wait_for("SELECT count() FROM ledger WHERE customer_id = 'corvid'", 1)
    republish_then_wait(
        pipeline, lookups("corvid", "lookup-7", calls=21, at=AN_HOUR_AGO - timedelta(minutes=5)), 2
    )

    pipeline.kill_worker()  # SIGKILL: the filter was in memory only
    pipeline.start_worker()
    pipeline.wait_until_ready()
    republish_then_wait(
        pipeline, lookups("corvid", "lookup-7", calls=22, at=AN_HOUR_AGO + timedelta(hours=1)), 3
    )

    assert ledger(pipeline, "corvid") == [("lookup-7", 20, Decimal("1"))]
    assert pipeline.customer_totals()["corvid"] == Decimal("1")
    assert pipeline.windows_match_ledger()


def test_uuid_ids_are_dropped_after_a_sigkill_and_an_upper_case_uuid_is_not_its_lower_case_twin(
    pipeline: Pipeline,
) -> None:
    # event_ids keeps a canonical UUID as its halves and any other id as text (sql/ddl/027): the filter
    # rebuilt after the kill and the lookup must still know each id exactly as it was sent.
    v7, upper = new_event_id(AN_HOUR_AGO), "0B7E1F3C-5D2A-4F6E-9A1B-2C3D4E5F6A7B"
    pipeline.wait_until_ready()
    pipeline.publish([lookups("egret", v7, calls=10), lookups("egret", upper, calls=20)])
    pipeline.wait_for("SELECT count() FROM ledger WHERE customer_id = 'egret'", 2)

    pipeline.kill_worker()
    pipeline.start_worker()
    pipeline.wait_until_ready()
    later = AN_HOUR_AGO + timedelta(minutes=1)
    republish_then_wait(pipeline, lookups("egret", v7, calls=11, at=later), counted=3)  # the marker
    republish_then_wait(pipeline, lookups("egret", upper, calls=21, at=later), counted=4)
    twin = lookups("egret", upper.lower(), calls=30, at=later)
    republish_then_wait(pipeline, twin, counted=6)  # another id: counted, and its marker

    assert sorted(ledger(pipeline, "egret")) == sorted(
        [(v7, 10, Decimal("0.5")), (upper, 20, Decimal("1")), (upper.lower(), 30, Decimal("1.5"))]
    )
    assert pipeline.windows_match_ledger()


def test_a_batch_replayed_after_a_crash_counts_its_own_rows_and_drops_only_true_repeats(
    services: Settings,
) -> None:
    p = Pipeline.create(services, "dedup-replay", partitions=1)
    try:
        p.load_prices()
        asyncio.run(seed_committed_offsets(p.settings))  # the group starts at offset 0
        events = [lookups("dunlin", f"lookup-{n}", calls=n + 1) for n in range(6)]
        events.append(lookups("dunlin", "lookup-2", calls=100, at=AN_HOUR_AGO + timedelta(seconds=1)))
        events.append(lookups("dunlin", "lookup-6", calls=7))
        p.publish(events, max_events=1)  # offsets 0..7 of partition 0
        # A worker wrote the rows of offsets 0..3 and was killed before it committed them.
        prices = PriceCatalog(load_price_dir(p.settings.prices_dir))
        written = [
            ledger_row(0, position(n, 0), prices.price(e), datetime.now(UTC))
            for n, e in enumerate(events[:4])
        ]
        p.db.insert("ledger", written, column_names=LEDGER_COLUMNS)

        p.start_worker()
        p.wait_until_counted(7)
        assert [(e, q) for e, q, _ in ledger(p, "dunlin")] == [(f"lookup-{n}", n + 1) for n in range(7)]
        assert p.customer_totals()["dunlin"] == Decimal("1.40")  # 28 calls
        assert p.windows_match_ledger()
        assert p.scalar("SELECT uniqExact(event_id) FROM event_ids") == 7
    finally:
        p.close()
