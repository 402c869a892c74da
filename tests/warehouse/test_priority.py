"""Improvement priority per rule, with ties broken in component order T, H, I, O on values
rounded to classification_decimals; per firm and for a group (mean components and betas)."""

from __future__ import annotations

import pytest

# one item (ll, ul, score) per component: c = (ll + score / 10 * (ul - ll)) / 9
C02 = (1, 3, 4.0)  # 0.2
C03 = (2, 3, 7.0)  # 0.3, computed 0.30000000000000004
C03_OTHER = (2, 4, 3.5)  # 0.3 by another path
C04 = (2, 4, 8.0)  # 0.4
C05 = (4, 5, 5.0)  # 0.5
C06 = (5, 6, 4.0)  # 0.6, computed 0.6000000000000001
C07 = (6, 7, 3.0)  # 0.7

FIRMS = {
    # items T, H, I, O and given betas T, H, I, O
    "P1": ((C05, C06, C05, C02), (0.1, 0.3, 0.45, 0.15)),
    "P2": ((C03, C03_OTHER, C04, C02), (0.25, 0.25, 0.25, 0.25)),
    # weighted gap T = 0.3 * (1 - 0.6) and O = 0.4 * (1 - 0.7) are both 0.12 but compute as
    # 0.11999999999999997 and 0.12000000000000002: a tie only on rounded values
    "P3": ((C06, C02, C05, C07), (0.3, 0.1, 0.2, 0.4)),
}

EXPECTED = {
    "lowest_contribution": {
        "P1": "O,T,I,H",  # T and I tie at 0.5
        "P2": "O,T,H,I",  # T and H tie at 0.3
        "P3": "H,I,T,O",
        # group means C: T 1.4/3, H 1.1/3, I 1.4/3, O 1.1/3 (two ties)
        "all": "H,O,T,I",
    },
    "highest_intensity": {
        "P1": "I,H,O,T",
        "P2": "T,H,I,O",  # all four tie
        "P3": "O,T,I,H",
        # group means beta: T 0.65/3, H 0.65/3, I 0.9/3, O 0.8/3
        "all": "I,O,T,H",
    },
    "weighted_gap": {
        "P1": "I,H,O,T",  # H 0.3 * 0.4 and O 0.15 * 0.8 tie at 0.12
        "P2": "O,T,H,I",  # T and H tie at 0.175
        "P3": "T,O,I,H",  # T and O tie at 0.12 (rounded)
        # T 0.65/3 * (1 - 1.4/3) = 0.1156, H 0.1372, I 0.16, O 0.1689
        "all": "O,I,H,T",
    },
}


@pytest.fixture(scope="module")
def sheets(methodology, kit):
    parts = []
    for firm_id, (items, betas) in FIRMS.items():
        components = dict(zip("THIO", items, strict=True))
        parts.append(kit.firm_rows(firm_id, components, methodology))
        given = dict(zip("THIO", betas, strict=True))
        parts.append({"weights": kit.weights({"firm_id": firm_id}, given)})
    return kit.merge(*parts)


@pytest.mark.parametrize("rule", sorted(EXPECTED))
def test_priority_rule(rule, sheets, methodology, build, kit):
    con = build(sheets, using=kit.with_settings(methodology, priority_rule=rule))
    firms = kit.by_key(kit.rows(con, "select firm_id, priority from marts.firm_tcc"), "firm_id")
    for firm_id in FIRMS:
        assert firms[firm_id]["priority"] == EXPECTED[rule][firm_id], firm_id
    (group,) = kit.rows(con, "select * from marts.tcc_by_group where group_type = 'all'")
    assert group["priority"] == EXPECTED[rule]["all"]
    first = {firm_id: EXPECTED[rule][firm_id][0] for firm_id in FIRMS}
    for code in "THIO":
        share = sum(value == code for value in first.values()) / len(first)
        assert group[f"first_priority_share_{code.lower()}"] == pytest.approx(share, abs=1e-12)


def test_weighted_gap_tie_needs_rounding(sheets, methodology, build, kit):
    """Precondition of P3: the two gaps differ before rounding, the wrong way round."""
    con = build(sheets, using=kit.with_settings(methodology, priority_rule="weighted_gap"))
    (row,) = kit.rows(con, "select t, o, beta_t, beta_o from marts.firm_tcc where firm_id = 'P3'")
    assert row["beta_t"] * (1 - row["t"]) < row["beta_o"] * (1 - row["o"])
