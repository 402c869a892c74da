"""Mapped-export benchmark: ingest of a KoboToolbox export beside the canonical workbook.

    .venv/bin/python bench/kobo_bench.py [--firms 10000] [--repeat 3]

It draws one round (thio.sample, as tests/fixtures/exports does: the firms' own data),
writes it as the canonical workbook (thio.sample's fast writer) and as a KoboToolbox XLSX
export of the sample form (XML values and headers), then times, in the same run and on the
same machine, ``thio.ingest.ingest_inputs`` of each (the best of ``--repeat`` runs; each in
a fresh work folder), and for the export also ``thio.mapping.read_export`` alone (reading
the sheets and reshaping them into the contract's sheets, without the archive and parquet
writing). It prints seconds and rows; figures go to docs/BENCHMARKS.md by hand. Nothing here
asserts a time.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fixtures.exports.generate import canonical_round, submissions, write_kobo_xlsx  # noqa: E402
from thio.ingest import ingest_inputs  # noqa: E402
from thio.mapping import load_mapping, read_export  # noqa: E402
from thio.sample import write_workbook  # noqa: E402

ROUND = "2025Q1"
MAPPING = REPO / "schemas" / "mappings" / "kobo_xml.yaml"


def _best(repeat: int, work: Path, label: str, function) -> tuple[float, object]:
    best, result = float("inf"), None
    for attempt in range(repeat):
        folder = work / f"{label}-{attempt}"
        started = time.perf_counter()
        result = function(folder)
        best = min(best, time.perf_counter() - started)
    return best, result


def run(firms: int, repeat: int, work: Path) -> dict:
    """Generate the inputs in ``work`` and time their ingest; returns the figures."""
    started = time.perf_counter()
    sheets = canonical_round(firms, round_id=ROUND)
    canonical = work / "canonical.xlsx"
    write_workbook(sheets, canonical, engine="fast")
    kobo = write_kobo_xlsx(submissions(sheets), work / "thio_survey_kobo.xlsx")
    generated = time.perf_counter() - started
    mapping = load_mapping(MAPPING)

    def ingest(path: Path, with_mapping: bool):
        return lambda folder: ingest_inputs(
            [path], ROUND, folder / "home", folder / "work", MAPPING if with_mapping else None
        )

    canonical_s, canonical_result = _best(repeat, work, "canonical", ingest(canonical, False))
    kobo_s, kobo_result = _best(repeat, work, "kobo", ingest(kobo, True))
    mapping_s, _ = _best(
        repeat, work, "read", lambda folder: read_export(mapping, kobo, kobo.name, ROUND)
    )
    assert canonical_result["rows_read"] == kobo_result["rows_read"], "the two inputs differ"
    return {
        "firms": firms,
        "rows": canonical_result["rows_read"],
        "bytes": {"canonical": canonical.stat().st_size, "kobo": kobo.stat().st_size},
        "generate_s": generated,
        "ingest_canonical_s": canonical_s,
        "ingest_kobo_s": kobo_s,
        "read_export_s": mapping_s,
        "ratio_kobo_to_canonical": kobo_s / canonical_s,
    }


def main() -> None:
    """Command line: print the figures (and their JSON on the last line)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--firms", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="thio-kobo-bench-") as folder:
        result = run(args.firms, args.repeat, Path(folder))
    rows = result["rows"]
    print(f"== {result['firms']} firms: " + ", ".join(f"{k} {v:,}" for k, v in rows.items()))
    print(
        f"  inputs    canonical workbook {result['bytes']['canonical'] / 1e6:.1f} MB, "
        f"Kobo export {result['bytes']['kobo'] / 1e6:.1f} MB (generated in "
        f"{result['generate_s']:.1f}s)"
    )
    print(
        f"  ingest    canonical {result['ingest_canonical_s']:.2f}s  "
        f"Kobo via mapping {result['ingest_kobo_s']:.2f}s  "
        f"({result['ratio_kobo_to_canonical']:.2f}x; read_export alone "
        f"{result['read_export_s']:.2f}s)"
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
