"""A worker's ClickHouse client never imports pandas: its writers send lists and Native bodies."""

from __future__ import annotations

import subprocess
import sys

_SCRIPT = """
import sys
from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.driver.insert import InsertContext
from costline.clickhouse import _without_dataframes
_without_dataframes()
InsertContext("ledger", ["customer_id"], [get_from_name("String")], [["acme"]])
print("pandas" in sys.modules)
"""


def test_an_insert_after_the_client_opens_does_not_import_pandas() -> None:
    shown = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["False"]


def test_without_the_switch_an_insert_imports_pandas() -> None:
    # The check the switch spares: without it, the same insert context pulls pandas in.
    script = _SCRIPT.replace("_without_dataframes()\n", "")
    shown = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["True"]
