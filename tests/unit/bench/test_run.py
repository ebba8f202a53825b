import re

import pytest

from bench.run import generate_statement


@pytest.mark.parametrize("column", ["ingested_at", "ingested_at_sent"])
def test_the_generated_ledger_gives_its_ingestion_time_in_the_column_named(column: str) -> None:
    statement = generate_statement(column)
    inserted = re.search(r"INSERT INTO \{table:Identifier\} \(([^)]*)\)", statement)
    assert inserted is not None
    assert [name.strip() for name in inserted.group(1).split(",")][-1] == column
    assert "$" not in statement
