"""Cost anomalies: an agent's month of requests, its runaway loop, a quiet weekend."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from streams.anomalies import (
    HourlySpend,
    HourlySpikeSettings,
    Judgement,
    RequestCostHistory,
    RequestCostSettings,
    StateFormatError,
    TokenDrift,
    TokenDriftSettings,
)

MONDAY = datetime(2026, 11, 2, tzinfo=UTC)  # a Monday, midnight UTC
CENT = Decimal("0.01")


def month_of_requests(history: RequestCostHistory, days: int = 30, per_day: int = 10) -> None:
    """An agent's steady month: ``per_day`` requests a day at exactly $0.01."""
    for day in range(days):
        for n in range(per_day):
            history.observe(MONDAY + timedelta(days=day, minutes=n), CENT)


def test_a_request_at_three_times_the_average_fires_and_one_under_twice_does_not() -> None:
    history = RequestCostHistory("acme/support-bot")
    month_of_requests(history)
    late_evening = MONDAY + timedelta(days=29, hours=23)

    under = history.observe(late_evening, Decimal("0.019"))
    assert under.judgement is Judgement.NORMAL

    history = RequestCostHistory("acme/support-bot")
    month_of_requests(history)
    over = history.observe(late_evening, Decimal("0.03"))
    assert over.fired
    assert (over.observed, over.baseline, over.threshold, over.ratio) == (
        Decimal("0.03"),
        Decimal("0.01"),
        Decimal("0.02"),
        Decimal("3"),
    )
    assert "300 requests" in over.basis


def test_a_request_is_judged_before_it_is_counted() -> None:
    history = RequestCostHistory("acme/support-bot", RequestCostSettings(min_requests=1, min_days=1))
    history.observe(MONDAY, CENT)
    # $0.03 against the $0.01 before it, not against the $0.02 it would make
    assert history.observe(MONDAY + timedelta(minutes=1), Decimal("0.03")).baseline == CENT


def test_nothing_fires_before_the_minimum_history() -> None:
    settings = RequestCostSettings(min_requests=50, min_days=3)
    few_requests = RequestCostHistory("acme/new-bot", settings)
    month_of_requests(few_requests, days=30, per_day=1)  # 30 requests over 30 days
    assert few_requests.observe(MONDAY + timedelta(days=30), Decimal("1")).judgement is Judgement.WARMING_UP

    one_busy_day = RequestCostHistory("acme/new-bot", settings)
    month_of_requests(one_busy_day, days=2, per_day=100)  # 200 requests, but two days
    verdict = one_busy_day.observe(MONDAY + timedelta(days=1, hours=12), Decimal("1"))
    assert verdict.judgement is Judgement.WARMING_UP
    assert not verdict.fired


def test_days_older_than_thirty_leave_the_average() -> None:
    history = RequestCostHistory("acme/support-bot")
    for n in range(100):  # a costly first day: $0.10 a request
        history.observe(MONDAY + timedelta(minutes=n), Decimal("0.10"))
    for day in range(1, 30):
        for n in range(10):
            history.observe(MONDAY + timedelta(days=day, minutes=n), CENT)
    within = history.observe(MONDAY + timedelta(days=29, hours=12), Decimal("0.03"))
    assert within.judgement is Judgement.NORMAL  # the $0.10 day still lifts the average
    after = history.observe(MONDAY + timedelta(days=30, hours=12), Decimal("0.03"))
    assert after.fired
    assert after.baseline > CENT  # ... and today's $0.03 of the verdict above is counted


def test_a_request_older_than_the_window_is_neither_judged_nor_counted() -> None:
    history = RequestCostHistory("acme/support-bot")
    month_of_requests(history)
    before = history.to_bytes()
    assert history.observe(MONDAY - timedelta(days=1), Decimal("9")).judgement is Judgement.TOO_LATE
    assert history.to_bytes() == before


def test_a_slightly_late_request_lands_in_its_own_day() -> None:
    history = RequestCostHistory("acme/support-bot")
    month_of_requests(history)
    late = history.observe(MONDAY + timedelta(days=28), Decimal("0.03"))
    assert late.fired  # judged against the window as it stands


def test_request_history_round_trips_through_bytes() -> None:
    history = RequestCostHistory("acme/support-bot")
    month_of_requests(history)
    restored = RequestCostHistory.from_bytes(history.to_bytes())
    at = MONDAY + timedelta(days=29, hours=23)
    assert restored.observe(at, Decimal("0.03")) == history.observe(at, Decimal("0.03"))
    assert restored.to_bytes() == history.to_bytes()


# ----- hourly spend against the same hour of past weeks -----

HOURLY = Decimal("6.00")  # the agent's usual spend in every hour


def weeks_of_spend(
    spend: HourlySpend, weeks: int, per_hour: Decimal = HOURLY, *, weekend: Decimal | None = None
) -> None:
    """Steady traffic: one request a minute, ``per_hour`` an hour (``weekend`` on Saturdays and Sundays)."""
    for hour in range(weeks * 168):
        at = MONDAY + timedelta(hours=hour)
        hourly = weekend if weekend is not None and at.weekday() >= 5 else per_hour
        for minute in range(60):
            spend.observe(at + timedelta(minutes=minute), hourly / 60)


def test_a_loop_tripling_the_hourly_spend_is_caught_within_ten_minutes() -> None:
    spend = HourlySpend("acme/support-bot")
    weeks_of_spend(spend, weeks=4)
    hour = MONDAY + timedelta(weeks=4, hours=10)
    fired = []
    for second in range(0, 3600, 20):  # three requests a minute at the usual cost
        verdict = spend.observe(hour + timedelta(seconds=second), HOURLY / 60)
        if verdict.fired:
            fired.append((second, verdict))
    assert len(fired) == 1  # once per (key, hour)
    second, verdict = fired[0]
    assert second <= 10 * 60
    assert verdict.baseline == HOURLY
    assert verdict.observed > verdict.threshold >= Decimal("2.00")  # twice the first ten minutes' $1


def test_a_bigger_loop_is_caught_sooner() -> None:
    spend = HourlySpend("acme/support-bot")
    weeks_of_spend(spend, weeks=4)
    hour = MONDAY + timedelta(weeks=4, hours=10)
    first = next(
        s for s in range(0, 3600, 6) if spend.observe(hour + timedelta(seconds=s), HOURLY / 60).fired
    )
    assert first <= 3 * 60  # ten requests a minute


def test_the_usual_traffic_and_a_weekend_lull_do_not_fire() -> None:
    spend = HourlySpend("acme/support-bot")
    weeks_of_spend(spend, weeks=3)  # weekends as busy as weekdays
    # then a week whose weekend spends a fifth of the usual
    verdicts = []
    for hour in range(168):
        at = MONDAY + timedelta(weeks=3, hours=hour)
        hourly = HOURLY / 5 if at.weekday() >= 5 else HOURLY
        verdicts += [spend.observe(at + timedelta(minutes=m), hourly / 60) for m in range(60)]
    assert not any(v.fired for v in verdicts)
    assert {v.judgement for v in verdicts} == {Judgement.NORMAL}


def test_a_quiet_hour_does_not_fire_on_cents() -> None:
    spend = HourlySpend("acme/night-bot")
    weeks_of_spend(spend, weeks=4, per_hour=Decimal("0.05"))
    hour = MONDAY + timedelta(weeks=4, hours=3)
    verdicts = [spend.observe(hour + timedelta(minutes=m), Decimal("0.01")) for m in range(60)]
    assert not any(v.fired for v in verdicts)  # $0.60 is 12x the usual, under the $1.00 floor


def test_no_hourly_baseline_before_three_days_then_the_same_hour_of_the_day() -> None:
    spend = HourlySpend("acme/new-bot")
    weeks_of_spend(spend, weeks=0)
    for day in range(3):
        for minute in range(60):
            verdict = spend.observe(MONDAY + timedelta(days=day, hours=10, minutes=minute), Decimal("0.10"))
            assert verdict.judgement is Judgement.WARMING_UP
    loop = MONDAY + timedelta(days=3, hours=10)
    fired = [spend.observe(loop + timedelta(seconds=s), Decimal("0.10")).fired for s in range(0, 3600, 10)]
    assert any(fired)
    verdict = spend.observe(loop + timedelta(minutes=59), Decimal("0"))
    assert "same hour of the day, 3 days" in verdict.basis


def test_hourly_spend_round_trips_through_bytes() -> None:
    spend = HourlySpend("acme/support-bot", HourlySpikeSettings(weeks=2))
    weeks_of_spend(spend, weeks=2)
    restored = HourlySpend.from_bytes(spend.to_bytes(), HourlySpikeSettings(weeks=2))
    assert restored.to_bytes() == spend.to_bytes()
    at = MONDAY + timedelta(weeks=2, hours=9, minutes=15)
    assert restored.observe(at, Decimal("20")) == spend.observe(at, Decimal("20"))


def test_hourly_state_keeps_only_its_weeks() -> None:
    spend = HourlySpend("acme/support-bot", HourlySpikeSettings(weeks=2))
    weeks_of_spend(spend, weeks=5)
    assert len(spend.hours) <= 2 * 168 + 1
    old = spend.observe(MONDAY, Decimal("1"))
    assert old.judgement is Judgement.TOO_LATE


def test_foreign_bytes_are_refused() -> None:
    with pytest.raises(StateFormatError):
        HourlySpend.from_bytes(b'{"v": 99}')


# ----- tokens per request drifting up -----


def test_tokens_growing_four_percent_a_day_are_flagged_once_a_day_and_steady_ones_never() -> None:
    drift = TokenDrift("acme/support-bot")
    steady = [
        drift.observe(MONDAY + timedelta(days=d, minutes=m), 3_000) for d in range(31) for m in range(60)
    ]
    assert not any(v.fired for v in steady)

    fired_on = []
    for day in range(31, 45):
        tokens = round(3_000 * 1.04 ** (day - 30))
        for minute in range(60):
            if drift.observe(MONDAY + timedelta(days=day, minutes=minute), tokens).fired:
                fired_on.append(day - 30)
    assert fired_on and fired_on == sorted(set(fired_on))  # at most once a day
    assert fired_on[0] <= 6  # a 15% rise of the three-day mean, within a week


def test_token_drift_round_trips_through_bytes() -> None:
    drift = TokenDrift("acme/support-bot", TokenDriftSettings(min_baseline_days=2))
    for day in range(5):
        drift.observe(MONDAY + timedelta(days=day), 1_000 + day)
    restored = TokenDrift.from_bytes(drift.to_bytes(), TokenDriftSettings(min_baseline_days=2))
    assert restored.to_bytes() == drift.to_bytes()
    at = MONDAY + timedelta(days=5)
    assert restored.observe(at, 5_000) == drift.observe(at, 5_000)


def test_a_loop_starting_late_in_the_hour_is_caught_within_ten_minutes_of_its_start() -> None:
    spend = HourlySpend("acme/support-bot")
    weeks_of_spend(spend, weeks=4)
    hour = MONDAY + timedelta(weeks=4, hours=10)
    for minute in range(45):
        assert not spend.observe(hour + timedelta(minutes=minute), HOURLY / 60).fired
    loop = hour + timedelta(minutes=45)
    first = next(
        s for s in range(0, 1800, 20) if spend.observe(loop + timedelta(seconds=s), HOURLY / 60).fired
    )
    assert first <= 10 * 60
    hour_only = HourlySpend("acme/support-bot", HourlySpikeSettings(trailing_s=0))
    weeks_of_spend(hour_only, weeks=4)
    for minute in range(45):
        hour_only.observe(hour + timedelta(minutes=minute), HOURLY / 60)
    late = next(
        s for s in range(0, 1800, 20) if hour_only.observe(loop + timedelta(seconds=s), HOURLY / 60).fired
    )
    assert late > first  # diluted by the hour's normal first 45 minutes


def _traffic(seed: int, days: int = 30) -> list[tuple[int, int]]:
    """(epoch seconds, amount) of a key: steady hours, loops, late events, a refund now and then."""
    rng = random.Random(seed)
    start = int(MONDAY.timestamp())
    out: list[tuple[int, int]] = []
    for n in range(days * 24 * 12):
        at = start + n * 300 + rng.randrange(300)
        loop = rng.random() < 0.01
        for _ in range(rng.randrange(1, 30 if loop else 4)):
            late = rng.choice((0, 0, 0, 0, 0, 0, 0, 0, 60, 1800, 86_400 * 2))
            amount = rng.randrange(1, 3000) * 10**7 * (8 if loop else 1)
            out.append((at - late, -amount // 10 if rng.random() < 0.002 else amount))
    return out


def _in_batches(events: list[tuple[int, int]], seed: int) -> list[list[tuple[int, int]]]:
    rng = random.Random(seed)
    batches, start = [], 0
    while start < len(events):
        size = rng.choice((1, 5, 40, 300))
        batches.append(events[start : start + size])
        start += size
    return batches


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_absorbing_an_hour_of_events_leaves_the_hourly_spend_as_judging_each(seed: int) -> None:
    one_by_one, absorbing = HourlySpend("k"), HourlySpend("k")
    fired: list[set[int]] = [set(), set()]
    events = _traffic(seed)
    n = 0
    for batch in _in_batches(events, seed):
        for epoch_s, amount in batch:
            if one_by_one.judge(epoch_s, amount) is Judgement.FIRED:
                fired[0].add(n)
            n += 1
        at = n - len(batch)
        while batch:  # runs of one hour, as the stream folds them
            hour = batch[0][0] // 3600
            size = next((i for i, (e, _) in enumerate(batch) if e // 3600 != hour), len(batch))
            run, batch = batch[:size], batch[size:]
            if not absorbing.absorb(hour, [e for e, _ in run], [u for _, u in run]):
                fired[1].update(
                    at + i for i, (e, u) in enumerate(run) if absorbing.judge(e, u) is Judgement.FIRED
                )
            at += size
        assert absorbing.to_bytes() == one_by_one.to_bytes()
    assert fired[0] == fired[1] and fired[0]


@pytest.mark.parametrize("seed", [1, 2])
def test_absorbing_a_day_of_requests_or_tokens_leaves_the_detectors_as_judging_each(seed: int) -> None:
    requests = [RequestCostHistory("k"), RequestCostHistory("k")]
    drifts = [TokenDrift("k"), TokenDrift("k")]
    fired: list[set[int]] = [set(), set(), set(), set()]
    events = [(e, abs(u) // 10**7 * (1 + n // 2000)) for n, (e, u) in enumerate(_traffic(seed, days=40))]
    n = 0
    for batch in _in_batches(events, seed):
        for epoch_s, amount in batch:
            if requests[0].judge(epoch_s, amount) is Judgement.FIRED:
                fired[0].add(n)
            if drifts[0].judge(epoch_s, amount) is Judgement.FIRED:
                fired[2].add(n)
            n += 1
        days, amounts = [e // 86_400 for e, _ in batch], [u for _, u in batch]
        for detector, found in ((requests[1], fired[1]), (drifts[1], fired[3])):
            at = 0
            while at < len(batch):
                at = detector.absorb(days, amounts, at, len(batch))
                if at < len(batch):
                    if detector.judge(batch[at][0], amounts[at]) is Judgement.FIRED:
                        found.add(n - len(batch) + at)
                    at += 1
        assert requests[1].to_bytes() == requests[0].to_bytes()
        assert drifts[1].to_bytes() == drifts[0].to_bytes()
    assert fired[0] == fired[1] and fired[0]
    assert fired[2] == fired[3] and fired[2]


def test_hourly_baseline_reads_only_the_hours_since_the_first_observed() -> None:
    settings = HourlySpikeSettings()
    spend = HourlySpend("c", settings)
    hour = 500_000
    spend.first_hour = hour - 2 * 168 - 5
    spend.hours = {hour - 168: 7, hour - 3 * 168: 9, hour - 24: 3}

    assert spend._same_hour(hour, 168, settings.weeks) == [7, 0]  # the third week is before the first hour
    # A week back is one of the seven days back too.
    assert spend._same_hour(hour, 24, settings.fallback_days) == [3, 0, 0, 0, 0, 0, 7]
    spend.first_hour = hour
    assert spend._same_hour(hour, 168, settings.weeks) == []


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("trailing_s", [900, 60, 0])
def test_a_new_hourly_detector_s_first_events_by_their_sums_leave_it_as_judging_each(
    seed: int, trailing_s: int
) -> None:
    rng = random.Random(seed)
    settings = HourlySpikeSettings(trailing_s=trailing_s)
    hour = int(MONDAY.timestamp()) // 3600 + rng.randrange(1000)
    first = hour * 3600 + rng.randrange(3600)
    times = sorted(
        rng.randrange(first, min(first + rng.choice((5, 600, 1800)), hour * 3600 + 3600))
        for _ in range(rng.randrange(1, 40))
    )
    units = [rng.randrange(1, 10**12) for _ in times]
    minutes = sorted({t // 60 for t in times})
    sums = [sum(u for t, u in zip(times, units, strict=True) if t // 60 == m) for m in minutes]
    judged, summed = HourlySpend("k", settings), HourlySpend("k", settings)
    for epoch_s, amount in zip(times, units, strict=True):
        assert judged.judge(epoch_s, amount) is Judgement.WARMING_UP

    assert summed.absorb_sums(hour, times[0], max(times), sum(units), minutes, sums)

    assert summed.to_bytes() == judged.to_bytes()
    later = [(times[-1] + rng.randrange(7200), rng.randrange(1, 10**12)) for _ in range(5)]
    for epoch_s, amount in sorted(later):  # and what comes next is judged alike
        assert summed.judge(epoch_s, amount) is judged.judge(epoch_s, amount)
    assert summed.to_bytes() == judged.to_bytes()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_detector_with_weeks_of_history_folded_by_its_stretches_sums_is_as_judging_each(seed: int) -> None:
    """A worker's keys at steady state: weeks of hours kept, a baseline, loops that fire. A stretch of
    one hour, in order and without a refund, is taken by its sums where none of it can fire, else each
    event is judged: the same bytes and the same alerts as every event judged."""
    one_by_one, summing = HourlySpend("k"), HourlySpend("k")
    fired: list[set[int]] = [set(), set()]
    by_sums_with_baseline = 0
    n = 0
    for batch in _in_batches(_traffic(seed), seed):
        for epoch_s, amount in batch:
            if one_by_one.judge(epoch_s, amount) is Judgement.FIRED:
                fired[0].add(n)
            n += 1
        at = n - len(batch)
        while batch:
            hour = batch[0][0] // 3600
            size = next((i for i, (e, _) in enumerate(batch) if e // 3600 != hour), len(batch))
            run, batch = batch[:size], batch[size:]
            times, units = [e for e, _ in run], [u for _, u in run]
            minutes = sorted({t // 60 for t in times})
            sums = [sum(u for t, u in run if t // 60 == m) for m in minutes]
            in_order = times == sorted(times) and min(units) >= 0
            if in_order and summing.absorb_sums(hour, times[0], times[-1], sum(units), minutes, sums):
                by_sums_with_baseline += summing._cached is not None and summing._cached[1] is not None
            else:
                fired[1].update(
                    at + i for i, (e, u) in enumerate(run) if summing.judge(e, u) is Judgement.FIRED
                )
            at += size
        assert summing.to_bytes() == one_by_one.to_bytes()
    assert fired[0] == fired[1] and fired[0]
    assert by_sums_with_baseline > 100
