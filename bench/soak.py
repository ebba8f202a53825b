"""A bounded soak: steady traffic, SIGKILLed workers, a ClickHouse outage, and hostile input.

    python -m bench.soak [--duration 180] [--short] [--rate 100] [--kills 4] [--outage-s 30]

On the project's own local services (started if need be, and stopped again
if this started them), with its own topics and database:

- publishes a steady stream of good events through the SDK (several
  customers and agents, known ids, costs priced here from prices/*.json
  without the pipeline's pricing code);
- SIGKILLs the worker ``--kills`` times and starts a new one each time;
- stops ClickHouse for ``--outage-s`` seconds, then starts it again;
- injects poison and hostile messages, each with the outcome the contract
  of issue #7 asks for: occurred_at in year 9999, an array spanning 101
  months, oversize dead letters (a huge attribute), an array with 3 bad
  events among good ones, malformed JSON, duplicate JSON keys, an event_id
  republished with occurred_at one second later, and a duplicate published
  after the old dedup window.

Then it stops publishing, lets the worker drain (bounded), and checks:

- ``lost``: good events not in the ledger;
- ``double_counted``: extra ledger rows of good ids, or window events beyond
  the distinct events in the ledger;
- ``stalled_s_max``: the longest a usage partition's committed offset stood
  still while it had input;
- ``ready_s_max``: the longest a worker took from start to Faust's "Ready";
- ``dead_letters_missing``: hostile inputs without a dead letter at their
  (partition, offset, index) on the topic and in the ``dead_letters`` table;
- also counting losses: ``hostile_counted`` (hostile events in the ledger),
  ``wrong_cost`` (good ids whose ledger cost is not the independent price of
  their first version) and ``windows_unlike_ledger`` (customers whose hourly
  windows do not equal their ledger).

The last line is one JSON object; the exit status is 1 if any figure that
counts a loss is not 0. Every wait is bounded, and every process it starts
is stopped before it returns.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from costline.config import Settings, get_settings
from costline.dev import local_servers, worker_process
from costline.dev.harness import Pipeline
from costline.kafka import topic_partitions
from costline.kafka_auth import client_security
from costline.publisher import UsagePublisher
from schemas.events import Embedding, LlmCall, ToolCall, UsageEvent
from schemas.money import ROUNDING_MODE, SCALE

# The contract's occurred_at bounds (issue #7: as Stripe, 35 days back and 5
# minutes ahead of the Kafka message timestamp); flags can follow a change.
MAX_AGE = timedelta(days=35)
MAX_AHEAD = timedelta(minutes=5)
HUGE_ATTRIBUTE = 5 * 1024 * 1024  # bytes: past the broker's 1 MiB message limit


# -- independent pricing ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Rates:
    """prices/*.json read directly, so the expected costs do not share the worker's pricing code."""

    versions: list[tuple[datetime, dict[tuple[str, str], dict[str, str]]]]

    @classmethod
    def load(cls, directory: Path) -> Rates:
        versions = []
        for path in sorted(directory.glob("*.json")):
            doc = json.loads(path.read_text())
            start = datetime.fromisoformat(doc["effective_from"].replace("Z", "+00:00"))
            versions.append((start, {(p["meter"], p["sku"]): p for p in doc["prices"]}))
        return cls(sorted(versions, key=lambda v: v[0]))

    def rate(self, meter: str, sku: str, at: datetime, name: str) -> Decimal:
        found = None
        for start, prices in self.versions:
            if start <= at and (meter, sku) in prices:
                found = prices[(meter, sku)]
        if found is None:
            raise KeyError(f"no {meter} price for {sku} at {at}")
        return Decimal(found[name])

    def cost(self, event: dict[str, Any]) -> Decimal:
        at = datetime.fromisoformat(event["occurred_at"])
        million = Decimal(1_000_000)
        if event["kind"] == "tool":
            cost: Decimal = event["calls"] * self.rate("tool", event["tool"], at, "per_call")
        elif event["kind"] == "embedding":
            cost = event["tokens"] * self.rate("embedding", event["model"], at, "per_mtok") / million
        else:
            model = event["model"]
            cost = (
                event["input_tokens"] * self.rate("llm", model, at, "input_per_mtok")
                + event["output_tokens"] * self.rate("llm", model, at, "output_per_mtok")
            ) / million
        return cost.quantize(SCALE, rounding=ROUNDING_MODE)


# -- what was sent and what should come of it ------------------------------------------------------


@dataclass
class Expected:
    good: dict[str, tuple[str, Decimal]] = field(default_factory=dict)  # event_id -> (customer, cost)
    hostile_ids: set[str] = field(default_factory=set)  # must not reach the ledger
    # (label, partition, offset, index) of every event that must become a dead letter
    letters: list[tuple[str, int, int, int]] = field(default_factory=list)

    def add_good(self, event: dict[str, Any], rates: Rates) -> None:
        self.good.setdefault(event["event_id"], (event["customer_id"], rates.cost(event)))


def good_event(rng: random.Random, n: int, at: datetime, customer: str, agent: str) -> dict[str, Any]:
    base = {
        "event_id": f"soak-{n}",
        "occurred_at": at.isoformat(),
        "customer_id": customer,
        "agent_id": agent,
    }
    kind = rng.choice(["llm", "llm", "tool", "embedding"])
    if kind == "llm":
        model = rng.choice(["gpt-4o", "claude-sonnet-4", "gpt-4o-mini"])
        provider = "anthropic" if model.startswith("claude") else "openai"
        tokens = {"input_tokens": rng.randrange(100, 20_000), "output_tokens": rng.randrange(10, 2_000)}
        return {**base, "kind": "llm", "provider": provider, "model": model, **tokens}
    if kind == "tool":
        return {**base, "kind": "tool", "tool": rng.choice(["tavily-search", "twilio-sms"]), "calls": 2}
    return {**base, "kind": "embedding", "model": "text-embedding-3-small", "tokens": rng.randrange(10, 5000)}


def as_model(event: dict[str, Any]) -> UsageEvent:
    kinds: dict[str, type[LlmCall] | type[ToolCall] | type[Embedding]] = {
        "llm": LlmCall,
        "tool": ToolCall,
        "embedding": Embedding,
    }
    return kinds[event["kind"]].model_validate(event)


def tool(event_id: str, customer: str, at: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "tool",
        "tool": "twilio-sms",
        "calls": 1,
        "event_id": event_id,
        "occurred_at": at.isoformat(),
        "customer_id": customer,
        "agent_id": "hostile",
        **extra,
    }


# -- the run -------------------------------------------------------------------------------------


@dataclass
class Soak:
    p: Pipeline
    args: argparse.Namespace
    rates: Rates
    say: Callable[[str], None]
    expected: Expected = field(default_factory=Expected)
    started: float = field(default_factory=time.monotonic)
    starts: list[tuple[float, str]] = field(default_factory=list)  # (monotonic start, log path)
    ready_s: list[float] = field(default_factory=list)
    killed_before_ready: int = 0
    stalled_s_max: float = 0.0
    stalls: list[tuple[int, float]] = field(default_factory=list)  # (partition, seconds) over 5 s
    published: int = 0
    stop_publishing: asyncio.Event = field(default_factory=asyncio.Event)
    monitor: asyncio.Task[None] | None = None
    open_stalls: dict[int, float] = field(default_factory=dict)  # partition -> seconds, at the end

    def t(self) -> float:
        return time.monotonic() - self.started

    def log(self, text: str) -> None:
        self.say(f"[{self.t():6.1f}s] {text}")

    # -- worker ------------------------------------------------------------------------------

    def start_worker(self) -> None:
        self.p.start_worker(batch_max=self.args.batch_max)
        self.starts.append((time.monotonic(), self.p.log_path))
        self.log(f"worker {len(self.starts)} started")

    def kill_worker(self) -> None:
        self.settle_ready()
        ready = len(self.ready_s) == len(self.starts)
        if not ready:
            self.killed_before_ready += 1
            self.ready_s.append(time.monotonic() - self.starts[-1][0])  # at least this long
        self.p.kill_worker(signal.SIGKILL)
        self.log("worker SIGKILLed" + ("" if ready else " before it was ready"))
        self.start_worker()

    def settle_ready(self) -> None:
        """Record the newest worker's time to ready once its log says so."""
        if len(self.ready_s) == len(self.starts):
            return
        began, path = self.starts[-1]
        try:
            text = Path(path).read_text(errors="replace")
        except OSError:
            return
        ready = worker_process.ready_at(text)
        if ready is not None:
            # The log line's own time, not when this poll saw it.
            stamp = ready.timestamp()
            self.ready_s.append(max(0.0, stamp - (time.time() - (time.monotonic() - began))))
            self.log(f"worker {len(self.starts)} ready after {self.ready_s[-1]:.1f}s")

    async def watch_ready(self) -> None:
        while not self.stop_publishing.is_set() or len(self.ready_s) < len(self.starts):
            self.settle_ready()
            if self.t() > self.args.duration + self.args.drain_s + 60:
                return
            await asyncio.sleep(0.2)

    # -- ClickHouse ----------------------------------------------------------------------------

    def clickhouse_outage(self) -> None:
        server = local_servers.clickhouse_server(self.p.settings)
        self.log(f"stopping ClickHouse for {self.args.outage_s:g}s")
        server.stop()
        time.sleep(self.args.outage_s)
        server.start()
        self.log("ClickHouse is back")

    # -- traffic -------------------------------------------------------------------------------

    async def publish_good(self) -> None:
        rng = random.Random(7)
        customers = [f"soak-c{i}" for i in range(self.args.customers)]
        agents = [f"soak-a{i}" for i in range(3)]
        async with UsagePublisher.from_settings(self.p.settings) as sdk:
            tick = 0.05
            while not self.stop_publishing.is_set():
                due = int(self.t() * self.args.rate) - self.published
                for _ in range(max(0, due)):
                    event = good_event(
                        rng, self.published, datetime.now(UTC), rng.choice(customers), rng.choice(agents)
                    )
                    self.expected.add_good(event, self.rates)
                    await sdk.publish(as_model(event))
                    self.published += 1
                await asyncio.sleep(tick)
            await sdk.flush()

    async def send(self, key: bytes, value: bytes, *, gzip: bool = False) -> tuple[int, int, datetime]:
        """One raw message; its partition, offset and (CreateTime) timestamp."""
        producer = AIOKafkaProducer(
            bootstrap_servers=self.p.settings.kafka_bootstrap,
            **client_security(self.p.settings),
            acks="all",
            enable_idempotence=True,
            compression_type="gzip" if gzip else None,
            max_request_size=16 * 1024 * 1024,
        )
        await producer.start()
        try:
            sent_at = datetime.now(UTC)
            meta = await producer.send_and_wait(
                self.p.settings.usage_topic,
                value=value,
                key=key,
                timestamp_ms=int(sent_at.timestamp() * 1000),
            )
            return meta.partition, meta.offset, sent_at
        finally:
            await producer.stop()

    async def hostile(self, label: str, key: str, value: bytes, bad: list[int], gzip: bool = False) -> None:
        partition, offset, _ = await self.send(key.encode(), value, gzip=gzip)
        for index in bad:
            self.expected.letters.append((label, partition, offset, index))
        self.log(f"sent {label} at {partition}/{offset} ({len(bad)} dead letters expected)")

    async def inject_hostile(self) -> None:
        """Inputs that must each become a dead letter and stall nothing; good neighbours count."""
        now = datetime.now(UTC)
        await self.hostile("malformed_json", "soak-h1", b'{"kind": "tool", "event_id": "soak-h-trunc', [0])
        self.expected.hostile_ids.add("soak-h-dupkeys")
        dup = tool("soak-h-dupkeys", "soak-h1", now)
        dup_raw = orjson.dumps(dup)[:-1] + b',"calls":1000}'  # "calls" twice, the last one lying
        await self.hostile("duplicate_keys", "soak-h1", dup_raw, [0])
        # An array of 10: indexes 2, 5 and 8 are bad, the rest must count.
        events: list[dict[str, Any]] = []
        bad = [2, 5, 8]
        for i in range(10):
            event = tool(f"soak-h-arr-{i}", "soak-h2", now)
            if i == 2:
                event["calls"] = -1
            elif i == 5:
                event["tool"] = "no-such-tool"
            elif i == 8:
                event["unknown_field"] = 1
            if i in bad:
                self.expected.hostile_ids.add(event["event_id"])
            else:
                self.expected.add_good(event, self.rates)
            events.append(event)
        await self.hostile("array_3_bad", "soak-h2", orjson.dumps(events), bad)
        # Oversize: a letter past the broker's limit must still reach the topic (cut).
        huge = "x" * HUGE_ATTRIBUTE
        valid_huge = tool("soak-h-huge", "soak-h3", now, attributes={"blob": huge})
        invalid_huge = tool("soak-h-huge-bad", "soak-h3", now, attributes={"blob": huge}, unknown_field=1)
        for label, event in (("huge_attribute", valid_huge), ("oversize_invalid", invalid_huge)):
            self.expected.hostile_ids.add(event["event_id"])
            await self.hostile(label, "soak-h3", orjson.dumps(event), [0], gzip=True)

    async def republish_later(self) -> None:
        """The same id with occurred_at one second later: the first version wins, counted once."""
        first = tool("soak-h-repub", "soak-h4", datetime.now(UTC) - timedelta(seconds=5), calls=3)
        self.expected.add_good(first, self.rates)
        await self.send(b"soak-h4", orjson.dumps(first))
        await asyncio.sleep(self.args.duration * 0.05)
        one_second_later = datetime.fromisoformat(first["occurred_at"]) + timedelta(seconds=1)
        second = {**first, "occurred_at": one_second_later.isoformat(), "calls": 4}
        await self.send(b"soak-h4", orjson.dumps(second))
        self.log("republished soak-h-repub with occurred_at +1 s")

    async def duplicate_after_window(self) -> None:
        """An id published again later, across worker kills, with a changed occurred_at and
        payload: the first version is counted, once (the dedup horizon is 24 h)."""
        original = tool("soak-h-late-dup", "soak-h5", datetime.now(UTC), calls=5)
        self.expected.add_good(original, self.rates)
        await self.send(b"soak-h5", orjson.dumps(original))
        await asyncio.sleep(self.args.late_duplicate_after_s)
        changed = datetime.fromisoformat(original["occurred_at"]) + timedelta(seconds=1)
        await self.send(
            b"soak-h5", orjson.dumps({**original, "occurred_at": changed.isoformat(), "calls": 6})
        )
        self.log(f"republished soak-h-late-dup {self.args.late_duplicate_after_s:g}s later, occurred_at +1 s")

    async def inject_poison(self) -> None:
        """Events no column type or partition limit may refuse into a stall."""
        now = datetime.now(UTC)
        far = tool("soak-h-9999", "soak-h6", datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
        self.expected.hostile_ids.add(far["event_id"])
        await self.hostile("year_9999", "soak-h6", orjson.dumps(far), [0])
        # 101 months, one event each: from a month ago to 99 months ahead.
        events, bad = [], []
        for i in range(101):
            at = now + timedelta(days=31 * (i - 1))
            event = tool(f"soak-h-months-{i}", "soak-h7", at)
            events.append(event)
            if at < now - MAX_AGE or at > now + MAX_AHEAD:
                bad.append(i)
                self.expected.hostile_ids.add(event["event_id"])
            else:
                self.expected.add_good(event, self.rates)
        await self.hostile("array_101_months", "soak-h7", orjson.dumps(events), bad)

    async def monitor_stalls(self) -> None:
        """Per usage partition, how long its committed offset stood still while it had input."""
        s = self.p.settings
        admin = AIOKafkaAdminClient(bootstrap_servers=s.kafka_bootstrap, **client_security(s))
        consumer = AIOKafkaConsumer(bootstrap_servers=s.kafka_bootstrap, group_id=None, **client_security(s))
        await admin.start()
        await consumer.start()
        try:
            tps = [TopicPartition(s.usage_topic, p) for p in await topic_partitions(s, s.usage_topic)]
            last: dict[TopicPartition, int] = {}
            since: dict[TopicPartition, float] = {}
            while True:
                try:
                    end = await consumer.end_offsets(tps)
                    committed = await admin.list_consumer_group_offsets(s.app_id)
                except Exception as exc:  # the broker is never stopped here; say it and go on
                    self.log(f"stall monitor: could not read offsets ({exc}); retrying")
                    await asyncio.sleep(1)
                    continue
                now = time.monotonic()
                for tp in tps:
                    offset = committed[tp].offset if tp in committed else 0
                    if offset >= end[tp] or offset != last.get(tp):
                        if tp in since and now - since[tp] > 5:
                            self.stalls.append((tp.partition, now - since[tp]))
                        since[tp] = now
                        last[tp] = offset
                    self.stalled_s_max = max(self.stalled_s_max, now - since[tp])
                self.open_stalls = {tp.partition: now - since[tp] for tp in tps if last.get(tp, -1) < end[tp]}
                if self.stop_publishing.is_set() and not self.open_stalls:
                    return
                await asyncio.sleep(0.5)
        finally:
            self.stalls.extend((p, s) for p, s in self.open_stalls.items() if s > 5)
            await consumer.stop()
            await admin.close()

    # -- the schedule --------------------------------------------------------------------------

    def schedule(self) -> list[tuple[float, str]]:
        d = self.args.duration
        outage_at = d * 0.35
        outage_end = outage_at + self.args.outage_s
        kills = []
        for i in range(self.args.kills):
            at = d * (0.12 + 0.78 * i / max(1, self.args.kills - 1))
            if outage_at - 3 <= at <= outage_end + 3:
                at = min(outage_end + 5, d - 5)
            kills.append((at, "kill"))
        plan = [
            (d * 0.02, "republish"),
            (d * 0.03, "late_duplicate"),
            (d * 0.08, "hostile"),
            (d * 0.6, "poison"),
        ]
        if self.args.outage_s > 0:
            plan.append((outage_at, "outage"))
        return sorted(plan + kills)

    async def run(self) -> None:
        self.start_worker()
        self.monitor = asyncio.create_task(self.monitor_stalls())
        tasks = [
            asyncio.create_task(self.publish_good()),
            asyncio.create_task(self.watch_ready()),
            self.monitor,
        ]
        background: list[asyncio.Task[None]] = []
        actions: dict[str, Callable[[], Any]] = {
            "republish": lambda: background.append(asyncio.create_task(self.republish_later())),
            "late_duplicate": lambda: background.append(asyncio.create_task(self.duplicate_after_window())),
            "hostile": self.inject_hostile,
            "poison": self.inject_poison,
            "kill": lambda: asyncio.to_thread(self.kill_worker),
            "outage": lambda: background.append(
                asyncio.create_task(asyncio.to_thread(self.clickhouse_outage))
            ),
        }
        try:
            for at, name in self.schedule():
                await asyncio.sleep(max(0.0, at - self.t()))
                result = actions[name]()
                if asyncio.iscoroutine(result):
                    await result
            await asyncio.sleep(max(0.0, self.args.duration - self.t()))
            self.log(f"published {self.published:,} good events; draining")
            await asyncio.gather(*background)
            self.stop_publishing.set()
            await tasks[0]
            await self.drain()
        finally:
            self.stop_publishing.set()
            for task in (*tasks, *background):
                task.cancel()
            await asyncio.gather(*tasks, *background, return_exceptions=True)

    async def drain(self) -> None:
        """Until every usage offset is committed (the monitor then ends), at most ``--drain-s``."""
        assert self.monitor is not None
        try:
            await asyncio.wait_for(asyncio.shield(self.monitor), self.args.drain_s)
            self.log("drained: every usage offset is committed")
        except TimeoutError:
            self.log(f"drain: offsets still uncommitted after {self.args.drain_s:g}s")

    # -- the verdict ---------------------------------------------------------------------------

    def verdict(self) -> dict[str, Any]:
        good = self.expected.good
        rows = self.p.rows("SELECT event_id, count(), sum(cost) FROM ledger FINAL GROUP BY event_id")
        ledger = {r[0]: (int(r[1]), Decimal(r[2])) for r in rows}
        lost = [i for i in good if i not in ledger]
        ledger_double = sum(ledger[i][0] - 1 for i in good if i in ledger)
        wrong_cost = [i for i, (_, cost) in good.items() if i in ledger and ledger[i][1] != cost]
        hostile_counted = sorted(i for i in self.expected.hostile_ids if i in ledger)
        # Per customer, windows against the ledger: every distinct ledger event once, same cost.
        in_ledger = {
            r[0]: (int(r[1]), Decimal(r[2]))
            for r in self.p.rows(
                "SELECT customer_id, uniqExact(event_id), sum(cost) FROM ledger FINAL GROUP BY customer_id"
            )
        }
        in_windows = {
            r[0]: (int(r[1]), Decimal(r[2]))
            for r in self.p.rows(
                "SELECT customer_id, sum(events), sum(cost) FROM cost_windows FINAL "
                "WHERE agent_id = '*' AND window_size = 3600 GROUP BY customer_id"
            )
        }
        windows_double = sum(
            max(0, events - in_ledger.get(customer, (0, Decimal(0)))[0])
            for customer, (events, _) in in_windows.items()
        )
        windows_wrong = sorted(
            c for c in set(in_ledger) | set(in_windows) if in_ledger.get(c) != in_windows.get(c)
        )
        missing, detail = self.letters_missing()
        figures = {
            "events": len(good),
            "lost": len(lost),
            "double_counted": max(ledger_double, windows_double),
            "stalled_s_max": round(self.stalled_s_max, 1),
            "ready_s_max": round(max(self.ready_s, default=0.0), 1),
            "dead_letters_missing": missing,
            "hostile_counted": len(hostile_counted),
            "wrong_cost": len(wrong_cost),
            "windows_unlike_ledger": len(windows_wrong),
            "ledger_double": ledger_double,
            "windows_double": windows_double,
            "dead_letters_expected": len(self.expected.letters),
            "worker_starts": len(self.starts),
            "killed_before_ready": self.killed_before_ready,
            "clickhouse_outage_s": self.args.outage_s,
            "duration_s": self.args.duration,
        }
        for line in detail:
            self.say(f"    {line}")
        if lost:
            self.say(f"    lost, first ids: {lost[:5]}")
        if hostile_counted:
            self.say(f"    hostile events counted: {hostile_counted[:5]}")
        if windows_wrong:
            self.say(f"    windows differ from the ledger for: {windows_wrong}")
        if self.stalls:
            longest = sorted(self.stalls, key=lambda s: -s[1])[:8]
            self.say("    longest stalls (partition, s): " + ", ".join(f"({p}, {s:.1f})" for p, s in longest))
        return figures

    def letters_missing(self) -> tuple[int, list[str]]:
        """Expected letters without a match on the topic and in the table, and a line per input."""
        on_topic = asyncio.run(read_letter_positions(self.p.settings))
        columns = {r[0] for r in self.p.rows(
            "SELECT name FROM system.columns WHERE database = currentDatabase() AND table = 'dead_letters'"
        )}  # fmt: skip
        by_index = "source_index" in columns
        index_sql = "source_index" if by_index else "0"
        in_table = {
            (int(r[0]), int(r[1]), int(r[2]))
            for r in self.p.rows(
                f"SELECT DISTINCT source_partition, source_offset, {index_sql} FROM dead_letters "
                "WHERE source_topic = {topic:String}",
                topic=self.p.settings.usage_topic,
            )
        }
        per_label: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        missing = 0
        rows_used: set[tuple[int, int, int]] = set()
        for label, partition, offset, index in self.expected.letters:
            topic_hit = (partition, offset, index) in on_topic
            # Without source_index the table holds one row per message: it matches one letter only.
            row = (partition, offset, index if by_index else 0)
            table_hit = row in in_table and row not in rows_used
            rows_used.add(row)
            counts = per_label[label]
            counts[0] += 1
            counts[1] += topic_hit
            counts[2] += table_hit
            if not (topic_hit and table_hit):
                missing += 1
                counts[3] += 1
        codes = {pos: code for pos, code in on_topic.items()}
        lines = []
        for label, (want, topic, table, miss) in per_label.items():
            sample = next(
                (codes.get((p, o, i), "-") for lab, p, o, i in self.expected.letters if lab == label), "-"
            )
            lines.append(
                f"{label:<18} expected {want:>3}  on topic {topic:>3}  in table {table:>3}  "
                f"missing {miss:>3}  code {sample}"
            )
        return missing, lines


async def read_letter_positions(settings: Settings) -> dict[tuple[int, int, int], str]:
    """(source partition, offset, index) -> code of every letter on the dead-letter topic."""
    topic = settings.dead_letter_topic
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        fetch_max_bytes=64 * 1024 * 1024,
        **client_security(settings),
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in await topic_partitions(settings, topic)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        end = await consumer.end_offsets(tps)
        found: dict[tuple[int, int, int], str] = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            positions = [await consumer.position(tp) for tp in tps]
            if all(position >= end[tp] for position, tp in zip(positions, tps, strict=True)):
                break
            for records in (await consumer.getmany(timeout_ms=500)).values():
                for record in records:
                    h = {k.removeprefix("costline."): v.decode() for k, v in record.headers or ()}
                    position = (
                        int(h.get("source_partition", -1)),
                        int(h.get("source_offset", -1)),
                        int(h.get("source_index", 0)),
                    )
                    found[position] = h.get("error_code", "?")
        return found
    finally:
        await consumer.stop()


LOSS_FIGURES = (
    "lost",
    "double_counted",
    "dead_letters_missing",
    "hostile_counted",
    "wrong_cost",
    "windows_unlike_ledger",
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=180, help="seconds of traffic (default 180)")
    parser.add_argument("--short", action="store_true", help="60 s, 2 kills: the CI version")
    parser.add_argument("--rate", type=float, default=100, help="good events per second")
    parser.add_argument("--customers", type=int, default=5)
    parser.add_argument("--kills", type=int, default=4, help="worker SIGKILLs (default 4)")
    parser.add_argument("--outage-s", type=float, default=30, help="ClickHouse outage; 0 for none")
    parser.add_argument("--drain-s", type=float, default=120, help="the most to wait for the drain")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--batch-max", type=int, default=500)
    parser.add_argument(
        "--late-duplicate-after-s",
        type=float,
        default=40,
        help="when an id is published again (changed occurred_at and payload), after its first "
        "publication; it must span worker kills, which a memory-only dedup forgot",
    )
    parser.add_argument("--keep", action="store_true", help="keep the soak's database for inspection")
    args = parser.parse_args(argv)
    if args.short:
        args.duration, args.kills = 60.0, 2
        args.late_duplicate_after_s = min(args.late_duplicate_after_s, 25.0)
    if args.late_duplicate_after_s + 15 > args.duration * 0.9:
        parser.error("--late-duplicate-after-s must leave time for the late duplicate within --duration")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    settings = get_settings()
    started = local_servers.up(settings)
    # The shipped occurred_at bounds, not the tests' wide ones: poison relies on them.
    shipped = Settings.model_fields
    bounds = {name: shipped[name].default for name in ("event_max_age_s", "event_max_future_s")}
    p = Pipeline.create(settings, "soak", partitions=args.partitions, **bounds)
    figures: dict[str, Any] = {}
    try:
        p.load_prices()
        soak = Soak(p, args, Rates.load(settings.prices_dir), say)
        say(f"soak: {args.duration:g}s at {args.rate:g} events/s, {args.kills} kills, "
            f"ClickHouse down {args.outage_s:g}s; topics {p.settings.usage_topic}*")  # fmt: skip
        asyncio.run(soak.run())
        figures = soak.verdict()
    finally:
        p.kill_worker(signal.SIGKILL)
        server = local_servers.clickhouse_server(settings)
        if not server.is_running():  # stopped by the outage when something failed
            server.start()
        p.close(keep_data=args.keep)
        local_servers.down(settings, tuple(started))
    width = max(map(len, figures), default=0)
    for key, value in figures.items():
        say(f"{key:<{width}}  {value}")
    print(orjson.dumps(figures).decode(), flush=True)
    return 1 if any(figures.get(name) for name in LOSS_FIGURES) else 0


if __name__ == "__main__":
    raise SystemExit(main())
