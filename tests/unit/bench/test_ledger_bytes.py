from bench.ledger_bytes import migrations_before
from costline import migrations


def test_a_database_is_migrated_up_to_the_named_migration_then_every_one_is_back() -> None:
    every = migrations.ddl_files()
    with migrations_before("019_"):
        older = migrations.ddl_files()
    assert older and all(path.name < "019_" for path in older)
    assert "019_ledger_bytes.sql" in [path.name for path in every]
    assert migrations.ddl_files() == every
