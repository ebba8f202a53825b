from decimal import Decimal

from bench import priced_workload as priced
from costline.config import Settings
from streams.aggregation import split_position


def test_the_stage_benchmarks_start_from_every_generated_event_decoded() -> None:
    usage = priced.decoded_usage(250)
    assert len(usage) == 250
    assert len({event.event_id for event in usage}) == 250


def test_each_event_is_priced_at_its_own_position_dealt_round_the_partitions() -> None:
    usage = priced.decoded_usage(20)
    counted = priced.counted(usage, priced.catalog(Settings()), partitions=8)
    assert [partition for partition, _, _ in counted] == [i % 8 for i in range(20)]
    assert [split_position(pos) for _, pos, _ in counted] == [(i, 0) for i in range(20)]
    assert [p.event for _, _, p in counted] == usage
    assert all(p.cost >= Decimal(0) for _, _, p in counted)


def test_a_stage_benchmark_takes_its_size_and_batch_from_the_command_line() -> None:
    parser = priced.stage_arguments("Sink CPU per event.\nMore.")
    args = parser.parse_args(["--events", "500", "--batch", "50"])
    assert (args.events, args.batch) == (500, 50)
