import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH_ONLY = re.compile(r"^\s*(import|from)\s+quixstreams\b", re.MULTILINE)
# The quixstreams peer's own process is the one place that imports it.
ALLOWED = {ROOT / "bench" / "peers" / "quix_app.py"}


def test_bench_only_dependencies_are_imported_by_the_peer_process_alone() -> None:
    found = [
        path.relative_to(ROOT)
        for package in ("schemas", "streams", "billing", "costline", "bench", "tests")
        for path in (ROOT / package).rglob("*.py")
        if path not in ALLOWED and BENCH_ONLY.search(path.read_text())
    ]
    assert found == []
