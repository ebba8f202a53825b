from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from bench.warm import Held, group_settled, member_partitions

USAGE = "costline-test-x.usage"


def assignment(*topics: tuple[str, list[int]]) -> bytes:
    encoded: bytes = ConsumerProtocolMemberAssignment(0, list(topics), b"{}").encode()
    return encoded


def test_each_members_partitions_of_the_usage_topic_are_read_from_its_assignment() -> None:
    raw = [
        assignment((USAGE, [0, 2]), ("costline-test-x-windows-changelog", [0, 2])),
        assignment((USAGE, [1, 3])),
    ]
    assert member_partitions(raw, USAGE) == [{0, 2}, {1, 3}]


def test_a_member_between_generations_has_no_partitions() -> None:
    assert member_partitions([b""], USAGE) == [set()]


def test_a_group_is_settled_when_stable_with_every_worker_and_every_partition_once() -> None:
    assert group_settled("Stable", [{0, 2}, {1, 3}], workers=2, partitions=4)


def test_a_group_is_not_settled_while_it_rebalances() -> None:
    assert not group_settled("PreparingRebalance", [{0, 2}, {1, 3}], workers=2, partitions=4)
    assert not group_settled("CompletingRebalance", [set(), set()], workers=2, partitions=4)


def test_a_group_is_not_settled_before_the_last_worker_joined() -> None:
    assert not group_settled("Stable", [{0, 1, 2, 3}], workers=2, partitions=4)


def test_a_group_is_not_settled_with_a_partition_unassigned_or_assigned_twice() -> None:
    assert not group_settled("Stable", [{0, 1}, {2}], workers=2, partitions=4)
    assert not group_settled("Stable", [{0, 1, 2}, {2, 3}], workers=2, partitions=4)


def test_a_condition_holds_only_once_observed_true_for_the_whole_hold() -> None:
    held = Held(hold_s=2.0)
    assert not held.observe(0.0, True)
    assert not held.observe(1.9, True)
    assert held.observe(2.0, True)


def test_one_false_observation_starts_the_hold_again() -> None:
    held = Held(hold_s=2.0)
    held.observe(0.0, True)
    held.observe(1.5, False)
    assert not held.observe(3.0, True)
    assert held.observe(5.0, True)
