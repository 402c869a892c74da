"""Benchmark inputs: one synthetic round (thio.sample) written as workbooks or a CSV folder.

``make_bench_inputs(out_dir, n_firms, fmt)`` returns the input paths to hand to the pipeline
and to ``bench/floor.py``. A workbook sheet holds at most 1,048,575 rows, so a large round in
``xlsx`` is split into several workbooks by blocks of firms (the contract allows a round to
arrive as several files; a firm is in only one of them; panel AHP, panel weights and the
programmes go with the first file). Inputs are reused when ``out_dir`` already holds the
same ones (``inputs.json`` records the arguments).

Usage: ``python bench/generate.py OUT_DIR N_FIRMS xlsx|csv``.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from thio.sample import EXCEL_MAX_ROWS, generate_rounds, write_csv_folder, write_workbook

FORMATS = ("xlsx", "csv")


def split_round(sheets: dict[str, pd.DataFrame], n_files: int) -> list[dict[str, pd.DataFrame]]:
    """A round's sheets split into ``n_files`` parts by contiguous blocks of firms."""
    if n_files <= 1:
        return [sheets]
    firm_ids = sheets["firms"]["firm_id"].to_numpy()
    blocks = np.array_split(np.arange(len(firm_ids)), n_files)
    parts = []
    for index, block in enumerate(blocks):
        members = set(firm_ids[block].tolist())
        part = {}
        for name, frame in sheets.items():
            if name == "programs":
                part[name] = frame if index == 0 else frame.iloc[0:0]
                continue
            firm = frame["firm_id"]
            mask = firm.isin(members).to_numpy().copy()
            if index == 0 and name in ("ahp", "weights"):
                mask |= firm.isna().to_numpy()  # panel rows
            part[name] = frame[mask].reset_index(drop=True)
        parts.append(part)
    return parts


def make_bench_inputs(
    out_dir: Path,
    n_firms: int,
    fmt: str,
    *,
    round_id: str = "2025Q1",
    seed: int = 2024,
    n_files: int | None = None,
    engine: str = "fast",
    reuse: bool = True,
) -> list[Path]:
    """Generate one round of ``n_firms`` firms into ``out_dir`` as ``fmt`` (xlsx or csv).

    Returns the input paths: workbooks ``round_<k>.xlsx`` or CSV folders ``round_<k>/``.
    ``n_files`` splits the round into that many files (default: one, or as many workbooks
    as Excel's row limit needs). ``engine`` is thio.sample.write_workbook's engine.
    """
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(FORMATS)}")
    out_dir = Path(out_dir)
    stamp = out_dir / "inputs.json"
    arguments = {
        "n_firms": n_firms,
        "fmt": fmt,
        "round_id": round_id,
        "seed": seed,
        "n_files": n_files,
        "engine": engine if fmt == "xlsx" else None,
    }
    if reuse and stamp.exists():
        recorded = json.loads(stamp.read_text())
        paths = [out_dir / name for name in recorded.get("files", [])]
        if recorded.get("arguments") == arguments and paths and all(p.exists() for p in paths):
            return paths
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)

    (sheets,) = generate_rounds(n_firms=n_firms, round_ids=(round_id,), seed=seed)
    files = n_files
    if files is None:
        largest = max(len(frame) for frame in sheets.values())
        files = math.ceil(largest / (EXCEL_MAX_ROWS - 1) * 1.02) if fmt == "xlsx" else 1
    paths = []
    for index, part in enumerate(split_round(sheets, max(1, files)), start=1):
        if fmt == "xlsx":
            path = out_dir / f"round_{index}.xlsx"
            write_workbook(part, path, engine=engine)
        else:
            path = out_dir / f"round_{index}"
            write_csv_folder(part, path)
        paths.append(path)
    stamp.write_text(
        json.dumps(
            {
                "arguments": arguments,
                "files": [p.name for p in paths],
                "rows": {name: len(frame) for name, frame in sheets.items()},
            },
            indent=1,
        )
    )
    return paths


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 3:
        raise SystemExit("usage: python bench/generate.py OUT_DIR N_FIRMS xlsx|csv")
    started = time.perf_counter()
    paths = make_bench_inputs(Path(args[0]), int(args[1]), args[2], reuse=False)
    print(f"{len(paths)} input(s) in {time.perf_counter() - started:.1f}s:")
    for path in paths:
        print(f"  {path}")


if __name__ == "__main__":
    main()
