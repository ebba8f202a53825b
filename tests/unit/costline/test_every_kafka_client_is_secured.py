"""Every Kafka client the code makes is given the transport security settings.

A client made without them would speak PLAINTEXT to a SASL_SSL listener and fail
only in production; this reads the source so a new one cannot be forgotten.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
PACKAGES = ("costline", "streams", "billing", "bench")


def kafka_clients_without_security() -> list[str]:
    missing = []
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
                    continue
                if not node.func.id.startswith("AIOKafka"):
                    continue
                # The security arguments come as **client_security(...) (or Faust's credentials).
                if not any(keyword.arg is None for keyword in node.keywords):
                    missing.append(f"{path.relative_to(REPO)}:{node.lineno} {node.func.id}")
    return missing


def test_every_aiokafka_client_takes_the_security_arguments() -> None:
    assert kafka_clients_without_security() == []
