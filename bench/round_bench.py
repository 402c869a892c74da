"""Round benchmark: the pipeline's stages against a floor measured in the same run.

    .venv/bin/python bench/round_bench.py [--xlsx-firms 10000] [--csv-firms 100000]

For each case it generates a round (thio.sample), then in separate child processes (so each
peak RSS is its own) runs
  * the floor: the same files read with fastexcel / pyarrow and the whole method in one
    DuckDB query (bench/floor.py);
  * the pipeline: ingest → validate → compute → publish, the functions the flow's tasks wrap,
    timed per stage (Prefect's start-up is excluded by construction);
  * the flow: `survey_round` under the ephemeral Prefect API, for the total with Prefect.
It prints seconds per stage, peak memory, and ratios to the floor. Figures go to
docs/BENCHMARKS.md by hand; nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    peak_after = {}

    def peak() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    started = time.perf_counter()
    run = start_run(round_id, inputs, home, None)
    work_dir = Path(run["work_dir"])
    methodology = run_methodology(run)
    mark = time.perf_counter()
    ingest = ingest_inputs([Path(name) for name in inputs], round_id, Path(home), work_dir)
    seconds["ingest"], mark = time.perf_counter() - mark, time.perf_counter()
    peak_after["ingest"] = peak()
    validation = validate_round(work_dir, round_id, methodology)
    seconds["validate"], mark = time.perf_counter() - mark, time.perf_counter()
    peak_after["validate"] = peak()
    db_path = work_dir / "compute.duckdb"
    compute = build_compute_db(work_dir / "accepted", methodology, db_path, round_id)
    seconds["compute"], mark = time.perf_counter() - mark, time.perf_counter()
    peak_after["compute"] = peak()
    report = publish_run(run, ingest, validation, compute)
    seconds["publish"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started
    peak_after["publish"] = peak()
    return {"seconds": seconds, "peak_mib_after": peak_after, "publication": report["publication"]}


def _flow(home: str, round_id: str, inputs: list[str]) -> dict:
    sys.path.insert(0, str(REPO))
    started = time.perf_counter()
    from flows.survey_round import survey_round

    report = survey_round(round_id=round_id, inputs=inputs, home=home)
    return {"seconds": time.perf_counter() - started, "status": report["publication"]["status"]}


def _floor(inputs: list[str]) -> dict:
    sys.path.insert(0, str(REPO))
    from bench.floor import run_floor

    result = run_floor([Path(name) for name in inputs])
    return {key: result[key] for key in ("read_s", "compute_s", "total_s", "n_firms")}


def _case(name: str, n_firms: int, fmt: str, workdir: Path) -> dict:
    sys.path.insert(0, str(REPO))
    from bench.generate import make_bench_inputs

    started = time.perf_counter()
    inputs = [str(path) for path in make_bench_inputs(workdir / name, n_firms, fmt)]
    generated = time.perf_counter() - started
    floor, floor_mib = _child(["_floor", *inputs])
    pipeline, pipeline_mib = _child(["_pipeline", str(workdir / f"{name}-home"), "2025Q1", *inputs])
    flow, flow_mib = _child(["_flow", str(workdir / f"{name}-flow-home"), "2025Q1", *inputs])
    return {
        "case": name,
        "firms": n_firms,
        "format": fmt,
        "generate_s": generated,
        "floor": {**floor, "peak_mib": floor_mib},
        "pipeline": {**pipeline, "peak_mib": pipeline_mib},
        "flow": {**flow, "peak_mib": flow_mib},
        "ratio_to_floor": pipeline["seconds"]["total"] / floor["total_s"],
        "ratio_ingest_to_floor_read": pipeline["seconds"]["ingest"] / floor["read_s"],
    }


def _print(result: dict) -> None:
    stages = result["pipeline"]["seconds"]
    floor = result["floor"]
    print(f"== {result['case']}: {result['firms']} firms, {result['format']}")
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
        f"  ratio pipeline/floor {result['ratio_to_floor']:.2f}x  "
        f"(ingest/read {result['ratio_ingest_to_floor_read']:.2f}x)"
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
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    options = parser.parse_args(args)
    results = []
    with tempfile.TemporaryDirectory(prefix="thio-bench-") as scratch:
        for name, n_firms, fmt in (
            ("xlsx", options.xlsx_firms, "xlsx"),
            ("csv", options.csv_firms, "csv"),
        ):
            if n_firms > 0:
                results.append(_case(name, n_firms, fmt, Path(scratch)))
                _print(results[-1])
    if options.json:
        options.json.write_text(json.dumps(results, indent=1, default=str))


if __name__ == "__main__":
    main()
