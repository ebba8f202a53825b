"""A worker's start before Faust's "Starting...": this tree against a commit, fresh processes in turn.

``python -m bench.worker_imports [--against 3a53910] [--rounds 15] [--bytecode source|compiled|both]``

Each round starts, for each tree in turn (either first in turn), a fresh child that runs
``costline worker`` as the console script does (``costline.cli.main(["worker"])``) and stops it
where its log would say ``[^Worker]: Starting...`` (what ``bench.run --phases restart`` counts
``restart_before_faust_s`` up to). Two calls are stubbed, as each module is imported, so that no
broker is needed: ``costline.kafka.ensure_topics`` and ``streams.offset_commits.seed_committed_offsets``
(round trips to Kafka, not imports; their own modules still load). What is left is the imports,
the modules' own work and Faust's until its worker starts. The child reports its process CPU
(``time.process_time``: from exec, the interpreter's own start included), how many of our modules
it compiled from source and how many collections the collector ran; the parent, the wall from
spawning it to that report.

Both trees run from copies under a temporary directory, with this venv, ``PYTHONPATH`` and the
working directory at the copy: ``--against`` from ``git archive``, this tree from its files (tracked
and untracked, not ignored) as they are now, each with this tree's build of the native extension.

``--bytecode source`` runs them as this box runs workers and as the Docker image did, with
``PYTHONDONTWRITEBYTECODE=1`` and no ``__pycache__`` for our packages: every start compiles them.
``compiled`` compiles both copies first (``compileall``), as a built image does. Medians of each.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import compileall
import io
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import orjson

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("schemas", "streams", "billing", "costline")
_REPORT = "WORKER_IMPORTS "
TIMES = ("wall_s", "cpu_s")

# Run in the child with the tree's copy first on sys.path: the same script for every tree.
CHILD = r"""
import gc
import importlib._bootstrap_external as external
import importlib.abc
import importlib.machinery
import os
import sys
import time

TREE = sys.argv[1]
compiled = []
_source_to_code = external.SourceLoader.source_to_code


def source_to_code(loader, data, path, *, _optimize=-1):
    if path.startswith(TREE):
        compiled.append(path)
    return _source_to_code(loader, data, path, _optimize=_optimize)


external.SourceLoader.source_to_code = source_to_code


async def no_round_trip(settings):
    return None


def stub_kafka(module):
    module.ensure_topics = no_round_trip


def stub_seed(module):
    module.seed_committed_offsets = no_round_trip


def stop_at_starting(module):
    log_mundane = module.Service._log_mundane

    def _log_mundane(self, msg, *args, **kwargs):
        if msg == "Starting..." and type(self).__name__ == "Worker":
            ours = [sys.modules[p] for p in ("schemas", "streams", "billing", "costline") if p in sys.modules]
            outside = [m for m in ours if not list(m.__path__)[0].startswith(TREE)]
            # Straight to the file: Faust's worker has sys.stderr logged by now.
            collections = sum(generation["collections"] for generation in gc.get_stats())
            os.write(2, b"WORKER_IMPORTS cpu=%.6f modules=%d compiled=%d collections=%d outside=%d\n" % (
                time.process_time(), len(sys.modules), len(compiled), collections, len(outside)))
            os._exit(0)
        return log_mundane(self, msg, *args, **kwargs)

    module.Service._log_mundane = _log_mundane


AFTER_IMPORT = {
    "costline.kafka": stub_kafka,
    "streams.offset_commits": stub_seed,
    "mode.services": stop_at_starting,
}


class AfterImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        then = AFTER_IMPORT.get(name)
        if then is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        run = spec.loader.exec_module

        def exec_module(module):
            run(module)
            then(module)

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, AfterImport())
from costline import cli

sys.exit(cli.main(["worker"]))
"""


def _native_builds() -> list[Path]:
    return sorted((REPO / "streams").glob("_wire_scan*.so"))


def copy_worktree(to: Path) -> None:
    """This tree's files as they are now (tracked or not, ignored ones left), and its native build."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO, capture_output=True, check=True,
    ).stdout.split(b"\0")  # fmt: skip
    for name in filter(None, listed):
        source = REPO / name.decode()
        if source.is_file():
            (to / name.decode()).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name.decode())
    for build in _native_builds():
        shutil.copy2(build, to / "streams" / build.name)


def extract_commit(commit: str, to: Path) -> None:
    """``commit``'s files, and this tree's native build (see the module's note)."""
    archive = subprocess.run(["git", "archive", commit], cwd=REPO, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(to, filter="data")
    for build in _native_builds():
        shutil.copy2(build, to / "streams" / build.name)


def native_differs(commit: str) -> bool:
    return subprocess.run(["git", "diff", "--quiet", commit, "--", "native"], cwd=REPO).returncode != 0


def start_once(tree: Path, env: dict[str, str]) -> dict[str, float]:
    """One child from spawn to Faust's "Starting...": its wall, CPU, modules and compiled modules."""
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(tree) + os.sep],
        cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert child.stderr is not None
    report, said = "", []
    for line in io.TextIOWrapper(child.stderr, errors="replace"):
        if line.startswith(_REPORT):
            report = line
            break
        said.append(line)
    wall = time.perf_counter() - started
    child.wait()
    if not report:
        raise RuntimeError(f"{tree}: the worker stopped before Faust started:\n{''.join(said[-20:])}")
    fields = dict(part.split("=") for part in report[len(_REPORT) :].split())
    if int(fields["outside"]):
        raise RuntimeError(f"{tree}: the child imported modules from outside its tree")
    return {"wall_s": wall, "cpu_s": float(fields["cpu"]), "modules": int(fields["modules"]),
            "compiled": int(fields["compiled"]), "collections": int(fields["collections"])}  # fmt: skip


def child_env(tree: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COSTLINE_")}
    env.update(
        PYTHONPATH=str(tree),
        PYTHONDONTWRITEBYTECODE="1",
        # Nothing listens here: the two round trips are stubbed, and Faust stops before it connects.
        COSTLINE_KAFKA_BOOTSTRAP="127.0.0.1:9",
        COSTLINE_CLICKHOUSE_URL="http://127.0.0.1:9",
        COSTLINE_HOME=str(home),
        COSTLINE_WEB_PORT="0",
    )
    env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", help="a commit to time alongside this tree")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--bytecode", choices=["source", "compiled", "both"], default="both")
    args = parser.parse_args()

    modes = ["source", "compiled"] if args.bytecode == "both" else [args.bytecode]
    figures: dict[str, object] = {"rounds": args.rounds, "against": args.against}
    if args.against and native_differs(args.against):
        figures["note"] = "native/ differs from --against; both trees run this tree's build"
    with tempfile.TemporaryDirectory(prefix="worker-imports-") as scratch:
        root = Path(scratch)
        trees: dict[str, Path] = {}
        for mode in modes:
            if args.against:
                trees[f"old_{mode}"] = root / f"old_{mode}"
                extract_commit(args.against, trees[f"old_{mode}"])
            trees[f"new_{mode}"] = root / f"new_{mode}"
            copy_worktree(trees[f"new_{mode}"])
            if mode == "compiled":
                for name in (n for n in trees if n.endswith(mode)):
                    for package in PACKAGES:
                        compileall.compile_dir(trees[name] / package, quiet=1)
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for r in range(args.rounds):
            for mode in modes:
                names = [n for n in trees if n.endswith(mode)]
                for name in names if r % 2 == 0 else reversed(names):
                    runs[name].append(start_once(trees[name], child_env(trees[name], root / "home")))
        for name, each in runs.items():
            wall = statistics.median(x["wall_s"] for x in each)
            cpu = statistics.median(x["cpu_s"] for x in each)
            figures[name] = {
                "wall_s": round(wall, 3), "cpu_s": round(cpu, 3), "modules": each[-1]["modules"],
                "compiled": each[-1]["compiled"], "collections": each[-1]["collections"],
            }  # fmt: skip
            last = each[-1]
            print(f"{name:<14} wall {wall:6.3f} s  cpu {cpu:6.3f} s  modules {last['modules']:5d}  "
                  f"compiled {last['compiled']:3d}  gc runs {last['collections']:3d}")  # fmt: skip
        # Each round's pair ran back to back: the median of their differences is steadier than the
        # difference of the medians when the box's load drifts.
        compared = [(f"old_{m}", f"new_{m}") for m in modes if args.against]
        if len(modes) == 2:  # what compiling saves; and old as it ran to new as the image now runs
            compared.append(("new_source", "new_compiled"))
            compared += [("old_source", "new_compiled")] if args.against else []
        for before, after in compared:
            pairs = list(zip(runs[before], runs[after], strict=True))
            saved = {k: round(statistics.median(b[k] - a[k] for b, a in pairs), 3) for k in TIMES}
            figures[f"{before}->{after}"] = saved
            print(f"{before} -> {after}: saved (median of pairs): wall {saved['wall_s']:.3f} s,"
                  f" cpu {saved['cpu_s']:.3f} s")  # fmt: skip
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
