from bench.cpu import busy_fraction, machine_ticks, python_reference_s

STAT = "cpu  100 5 50 800 40 3 2 0 0 0\ncpu0 50 2 25 400 20 1 1 0 0 0\n"


def test_the_machines_busy_ticks_are_all_but_idle_and_iowait() -> None:
    assert machine_ticks(STAT) == (160, 1000)


def test_the_busy_fraction_is_of_the_ticks_between_two_snapshots() -> None:
    assert busy_fraction((160, 1000), (460, 1400)) == 0.75


def test_the_python_reference_is_a_positive_cpu_time_of_a_fixed_loop() -> None:
    assert python_reference_s(iterations=10_000) > 0
