import uuid

from bench import event_ids_layout as layout
from bench.workload import DAY


def test_the_ids_are_the_workloads_uuidv7_of_each_events_time_some_upper_case_some_not_uuids() -> None:
    work = layout.workload(3_000)
    assert len(set(work.ids)) == 3_000 and work.times[0] == DAY
    upper = [i for i in work.ids if i != i.lower()]
    plain = [i for i in work.ids if i.startswith("retry-")]
    assert len(upper) == 6 and len(plain) == 3
    for event_id, at in zip(work.ids, work.times, strict=True):
        if event_id in plain:
            continue
        made = uuid.UUID(event_id)
        assert made.version == 7
        assert made.int >> 80 == int((at - layout.EPOCH).total_seconds() * 1000)
    assert work.customers[0].startswith("cust-")


def test_each_layout_goes_first_in_turn() -> None:
    names = ["a", "b", "c"]
    assert [layout.rotated(names, turn) for turn in range(4)] == [
        ["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "b", "c"]
    ]  # fmt: skip


def test_every_layouts_queries_name_its_own_table() -> None:
    for name, chosen in layout.LAYOUTS.items():
        assert "ids_x" in chosen.lookup.format(table="ids_x")
        assert "FROM ids_x" in layout.hashes_query(chosen, "ids_x")
        granularity = name.removeprefix("string").removeprefix("halves")
        made = chosen.table.format(table="ids_x", granularity=chosen.granularity)
        assert f"index_granularity = {granularity}" in made
