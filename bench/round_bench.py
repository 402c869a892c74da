"""Round benchmark: the pipeline's stages against a floor measured in the same run.

    .venv/bin/python bench/round_bench.py [--xlsx-firms 10000] [--csv-firms 100000]
        [--repeat N] [--no-flow] [--json FILE]

For each case it generates a round (thio.sample), then in separate child processes (so each
peak RSS is its own) runs
  * the floor: the same files read with fastexcel / pyarrow and the whole method in one
    DuckDB query (bench/floor.py);
  * the pipeline: ingest → validate → compute → publish, the functions the flow's tasks wrap,
    timed per stage (Prefect's start-up is excluded by construction);
  * the flow: `survey_round` under the ephemeral Prefect API, for the total with Prefect.
It prints seconds per stage, peak memory, and ratios to the floor (``--repeat N``: the
fastest of N alternating runs of each, for a shared machine), and the CPU seconds (user +
system, all threads) of the floor and of each stage: on a machine others load, their ratio
moves much less than the ratio of seconds. Figures go to docs/BENCHMARKS.md by hand; nothing
here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


def _child(args: list[str]) -> tuple[dict, float]:
    """Run this script in a child process; its JSON answer and its peak RSS in MiB."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    process = subprocess.Popen(
        [PYTHON, str(Path(__file__).resolve()), *args],
        stdout=subprocess.PIPE,
        cwd=REPO,
        env=env,
    )
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"child {args[0]} failed with exit code {process.returncode}")
    return json.loads(output.decode().strip().splitlines()[-1]), usage.ru_maxrss / 1024


def _pipeline(home: str, round_id: str, inputs: list[str]) -> dict:
    sys.path.insert(0, str(REPO))
    from thio.ingest import ingest_inputs
    from thio.rounds import publish_run
    from thio.runs import run_methodology, start_run
    from thio.validation import validate_round
    from thio.warehouse import build_compute_db

    seconds = {}
    cpu = {}  # CPU seconds (all threads, user + system): less sensitive to others' load
    peak_after = {}

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    started, started_cpu = time.perf_counter(), _cpu_seconds()
    run = start_run(round_id, inputs, home, None)
    work_dir = Path(run["work_dir"])
    methodology = run_methodology(run)
    mark, mark_cpu = time.perf_counter(), _cpu_seconds()

    def lap(stage: str) -> None:
        nonlocal mark, mark_cpu
        seconds[stage], mark = time.perf_counter() - mark, time.perf_counter()
        cpu[stage], mark_cpu = _cpu_seconds() - mark_cpu, _cpu_seconds()
        peak_after[stage] = peak()

    ingest = ingest_inputs([Path(name) for name in inputs], round_id, Path(home), work_dir)
    lap("ingest")
    validation = validate_round(work_dir, round_id, methodology)
    lap("validate")
    db_path = work_dir / "compute.duckdb"
    compute = build_compute_db(work_dir / "accepted", methodology, db_path, round_id)
    lap("compute")
    report = publish_run(run, ingest, validation, compute)
    lap("publish")
    seconds["total"] = time.perf_counter() - started
    cpu["total"] = _cpu_seconds() - started_cpu
    return {
        "seconds": seconds,
        "cpu_seconds": cpu,
        "peak_mib_after": peak_after,
        "publication": report["publication"],
    }


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _flow(home: str, round_id: str, inputs: list[str]) -> dict:
    sys.path.insert(0, str(REPO))
    started = time.perf_counter()
    from flows.survey_round import survey_round

    report = survey_round(round_id=round_id, inputs=inputs, home=home)
    return {"seconds": time.perf_counter() - started, "status": report["publication"]["status"]}


def _floor(inputs: list[str]) -> dict:
    sys.path.insert(0, str(REPO))
    from bench.floor import run_floor

    started_cpu = _cpu_seconds()
    result = run_floor([Path(name) for name in inputs])
    cpu = _cpu_seconds() - started_cpu
    return {key: result[key] for key in ("read_s", "compute_s", "total_s", "n_firms")} | {
        "cpu_s": cpu
    }


def _case(
    name: str, n_firms: int, fmt: str, workdir: Path, repeat: int = 1, flow: bool = True
) -> dict:
    """One case; with ``repeat`` > 1 the floor and the pipeline run alternately that many
    times and the fastest run of each is kept (on a shared machine the others' load only
    ever adds time), with the highest peak of each."""
    sys.path.insert(0, str(REPO))
    from bench.generate import make_bench_inputs

    started = time.perf_counter()
    inputs = [str(path) for path in make_bench_inputs(workdir / name, n_firms, fmt)]
    generated = time.perf_counter() - started
    floors, pipelines = [], []
    for attempt in range(max(1, repeat)):
        floors.append(_child(["_floor", *inputs]))
        home = workdir / f"{name}-home-{attempt}"
        pipelines.append(_child(["_pipeline", str(home), "2025Q1", *inputs]))
        shutil.rmtree(home, ignore_errors=True)
    floor = min((result for result, _ in floors), key=lambda result: result["total_s"])
    pipeline = min(
        (result for result, _ in pipelines), key=lambda result: result["seconds"]["total"]
    )
    floor_mib = max(mib for _, mib in floors)
    pipeline_mib = max(mib for _, mib in pipelines)
    if flow:
        flow_result, flow_mib = _child(
            ["_flow", str(workdir / f"{name}-flow-home"), "2025Q1", *inputs]
        )
    else:
        flow_result, flow_mib = {"seconds": float("nan"), "status": "not run"}, float("nan")
    return {
        "case": name,
        "firms": n_firms,
        "format": fmt,
        "generate_s": generated,
        "repeat": max(1, repeat),
        "floor": {**floor, "peak_mib": floor_mib},
        "pipeline": {**pipeline, "peak_mib": pipeline_mib},
        "flow": {**flow_result, "peak_mib": flow_mib},
        "ratio_to_floor": pipeline["seconds"]["total"] / floor["total_s"],
        "cpu_ratio_to_floor": pipeline["cpu_seconds"]["total"] / floor["cpu_s"],
        "ratio_ingest_to_floor_read": pipeline["seconds"]["ingest"] / floor["read_s"],
    }


def _print(result: dict) -> None:
    stages = result["pipeline"]["seconds"]
    floor = result["floor"]
    runs = f" (fastest of {result['repeat']} runs each)" if result["repeat"] > 1 else ""
    print(f"== {result['case']}: {result['firms']} firms, {result['format']}{runs}")
    print(
        f"  floor     read {floor['read_s']:.2f}s  compute {floor['compute_s']:.2f}s  "
        f"total {floor['total_s']:.2f}s  peak {floor['peak_mib']:.0f} MiB"
    )
    print(
        "  pipeline  "
        + "  ".join(f"{stage} {value:.2f}s" for stage, value in stages.items())
        + f"  peak {result['pipeline']['peak_mib']:.0f} MiB"
    )
    print(
        f"  flow      total with Prefect {result['flow']['seconds']:.2f}s  "
        f"peak {result['flow']['peak_mib']:.0f} MiB  ({result['flow']['status']})"
    )
    print(
        "  cpu       "
        + "  ".join(
            f"{stage} {value:.2f}s" for stage, value in result["pipeline"]["cpu_seconds"].items()
        )
        + f"  (floor {floor['cpu_s']:.2f}s)"
    )
    print(
        f"  ratio pipeline/floor {result['ratio_to_floor']:.2f}x  "
        f"(ingest/read {result['ratio_ingest_to_floor_read']:.2f}x; "
        f"CPU seconds {result['cpu_ratio_to_floor']:.2f}x)"
    )


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] == "_pipeline":
        print(json.dumps(_pipeline(args[1], args[2], args[3:]), default=str))
        return
    if args and args[0] == "_flow":
        print(json.dumps(_flow(args[1], args[2], args[3:])))
        return
    if args and args[0] == "_floor":
        print(json.dumps(_floor(args[1:])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xlsx-firms", type=int, default=10_000)
    parser.add_argument("--csv-firms", type=int, default=100_000)
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run the floor and the pipeline this many times each, alternately; keep the "
        "fastest of each (the ratio is of the two fastest)",
    )
    parser.add_argument("--no-flow", action="store_true", help="skip the run under Prefect")
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    options = parser.parse_args(args)
    results = []
    with tempfile.TemporaryDirectory(prefix="thio-bench-") as scratch:
        for name, n_firms, fmt in (
            ("xlsx", options.xlsx_firms, "xlsx"),
            ("csv", options.csv_firms, "csv"),
        ):
            if n_firms > 0:
                results.append(
                    _case(
                        name,
                        n_firms,
                        fmt,
                        Path(scratch),
                        repeat=options.repeat,
                        flow=not options.no_flow,
                    )
                )
                _print(results[-1])
    if options.json:
        options.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
