"""Read-only reports on the published warehouse (English or Indonesian labels)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from thio.errors import ThioError
from thio.methodology import load_methodology
from thio.publish import warehouse_path

LABELS = {
    "en": {
        "title": "Technometric map, round {round_id} (version {version})",
        "sector": "sector",
        "all": "all sectors",
        "firms": "firms",
        "tcc": "mean TCC",
        "class": "class",
        "priority": "first priority",
    },
    "id": {
        "title": "Peta teknometrik, putaran {round_id} (versi {version})",
        "sector": "sektor",
        "all": "semua sektor",
        "firms": "jumlah usaha",
        "tcc": "rata-rata TCC",
        "class": "kelas",
        "priority": "prioritas pertama",
    },
}


def open_warehouse(home: Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the published warehouse (never blocks a writer)."""
    path = warehouse_path(Path(home))
    if not path.exists():
        raise ThioError(f"{path}: no published warehouse yet; run 'thio run' first")
    return duckdb.connect(str(path), read_only=True)


def _sector_label(sector: str, names: dict[str, str | None]) -> str:
    name = names.get(sector)
    return f"{sector} {name}" if name else sector


def technometric_map(home: Path, round_id: str | None = None, lang: str = "en") -> str:
    """The per-sector map of a round's current version: firms, mean TCC, class, priority."""
    labels = LABELS[lang]
    methodology = load_methodology()
    with open_warehouse(home) as con:
        if round_id is None:
            found = con.execute("select max(round_id) from latest.tcc_by_group").fetchone()[0]
            if found is None:
                raise ThioError("no round has been published yet")
            round_id = found
        rows = con.execute(
            "select group_type, sector_code, version, n_firms, tcc_mean, tcc_mean_class, priority "
            "from latest.tcc_by_group where round_id = ? and group_type in ('sector', 'all') "
            "order by group_type = 'all', sector_code",
            [round_id],
        ).fetchall()
        names = dict(
            con.execute(
                "select sector_code, min(sector_name) from latest.firm_tcc where round_id = ? "
                "group by sector_code",
                [round_id],
            ).fetchall()
        )
    if not rows:
        raise ThioError(f"round {round_id} has no published version")
    header = (labels["sector"], labels["firms"], labels["tcc"], labels["class"], labels["priority"])
    table = [header]
    for group_type, sector, _, n_firms, tcc_mean, tcc_class, priority in rows:
        first = priority.split(",")[0]
        table.append(
            (
                labels["all"] if group_type == "all" else _sector_label(sector, names),
                str(n_firms),
                f"{tcc_mean:.3f}",
                methodology.class_label(tcc_class, lang),
                f"{first} ({methodology.component_label(first, lang)})",
            )
        )
    widths = [max(len(row[index]) for row in table) for index in range(len(header))]
    lines = [labels["title"].format(round_id=round_id, version=rows[0][2])]
    for number, row in enumerate(table):
        lines.append("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
        if number == 0:
            lines.append("  ".join("-" * width for width in widths))
    return "\n".join(line.rstrip() for line in lines)
