import pytest

from bench.ledger_bytes import cpu_s_of_stat, migrations_before, timed
from costline import migrations


def test_a_database_is_migrated_up_to_the_named_migration_then_every_one_is_back() -> None:
    every = migrations.ddl_files()
    with migrations_before("019_"):
        older = migrations.ddl_files()
    assert older and all(path.name < "019_" for path in older)
    assert "019_ledger_bytes.sql" in [path.name for path in every]
    assert migrations.ddl_files() == every


def test_a_process_cpu_is_its_user_and_system_ticks_counted_after_its_name() -> None:
    # /proc/PID/stat of a process whose name holds a space and a parenthesis: utime 1234, stime 566.
    stat = "4242 (clickhouse (x) serve) S 1 4242 4242 0 -1 4194560 900 0 0 0 1234 566 0 0 20 0 57 0 100 1 2\n"
    assert cpu_s_of_stat(stat, 100) == pytest.approx(18.0)


def test_timed_work_gives_its_result_and_the_server_cpu_spent_meanwhile() -> None:
    readings = iter([10.0, 12.5])
    result, spent = timed(lambda: next(readings), lambda: "done")
    assert result == "done"
    assert spent["server_cpu_s"] == 2.5
    assert spent["wall_s"] is not None and spent["wall_s"] >= 0


def test_no_server_process_gives_no_cpu_figure() -> None:
    _, spent = timed(lambda: None, lambda: None)
    assert spent["server_cpu_s"] is None
