"""tcc_by_group with sample_weight: weighted means and shares, unweighted n, counts, median,
quartiles, min and max (method.md section 9); and the same round without weights."""

from __future__ import annotations

import pytest

# c by construction: 0.2 (1,3,4), 0.3 (2,3,7), 0.4 (2,4,8), 0.5 (4,5,5), 0.6 (5,6,4)
ITEMS = {0.2: (1, 3, 4.0), 0.3: (2, 3, 7.0), 0.4: (2, 4, 8.0), 0.5: (4, 5, 5.0), 0.6: (5, 6, 4.0)}
# firm -> sector, region, sample_weight, contributions T, H, I, O (default betas 0.25)
FIRMS = {
    "A": ("10", "R1", 1.0, (0.2, 0.4, 0.4, 0.4)),
    "B": ("10", "R2", 3.0, (0.5, 0.3, 0.5, 0.5)),
    "C": ("20", "R1", 2.0, (0.6, 0.6, 0.5, 0.6)),
}
# TCC = (T H I O) ^ (1/4)
TCC = {
    "A": (0.2 * 0.4**3) ** 0.25,  # 0.3364 fair
    "B": (0.3 * 0.5**3) ** 0.25,  # 0.4401 fair
    "C": (0.5 * 0.6**3) ** 0.25,  # 0.5738 good
}


def _sheets(methodology, kit, weighted):
    parts = [
        kit.firm_rows(
            firm_id,
            {code: ITEMS[value] for code, value in zip("THIO", values, strict=True)},
            methodology,
            sector_code=sector,
            region_code=region,
            sample_weight=weight if weighted else None,
        )
        for firm_id, (sector, region, weight, values) in FIRMS.items()
    ]
    return kit.merge(*parts)


def _groups(con, kit):
    return kit.by_key(kit.rows(con, "select * from marts.tcc_by_group"), "group_type", "group_code")


def test_weighted_round(methodology, build, kit):
    groups = _groups(build(_sheets(methodology, kit, weighted=True)), kit)
    assert len(groups) == 1 + 2 + 2 + 3
    tcc_a, tcc_b, tcc_c = TCC["A"], TCC["B"], TCC["C"]

    every = groups[("all", "all")]
    assert (every["sector_code"], every["region_code"]) == (None, None)
    assert every["weighted"] is True
    assert every["n_firms"] == 3
    assert every["weight_sum"] == pytest.approx(6.0)
    assert every["tcc_mean"] == pytest.approx((tcc_a + 3 * tcc_b + 2 * tcc_c) / 6, abs=1e-12)
    # unweighted order statistics (numpy's linear interpolation)
    assert every["tcc_median"] == pytest.approx(tcc_b, abs=1e-12)
    assert every["tcc_p25"] == pytest.approx(tcc_a + 0.5 * (tcc_b - tcc_a), abs=1e-12)
    assert every["tcc_p75"] == pytest.approx(tcc_b + 0.5 * (tcc_c - tcc_b), abs=1e-12)
    assert (every["tcc_min"], every["tcc_max"]) == pytest.approx((tcc_a, tcc_c), abs=1e-12)
    means = (every["t_mean"], every["h_mean"], every["i_mean"], every["o_mean"])
    assert means == pytest.approx((2.9 / 6, 2.5 / 6, 2.9 / 6, 3.1 / 6), abs=1e-12)
    betas = (every["beta_t_mean"], every["beta_h_mean"], every["beta_i_mean"], every["beta_o_mean"])
    assert betas == pytest.approx((0.25, 0.25, 0.25, 0.25), abs=1e-12)
    assert (every["n_low"], every["n_fair"], every["n_good"]) == (0, 2, 1)
    assert every["share_fair"] == pytest.approx(4 / 6, abs=1e-12)
    assert every["share_good"] == pytest.approx(2 / 6, abs=1e-12)
    assert every["share_low"] == 0.0
    # first priorities: A -> T, B -> H, C -> I, weighted 1, 3, 2
    shares = [every[f"first_priority_share_{code}"] for code in "thio"]
    assert shares == pytest.approx([1 / 6, 3 / 6, 2 / 6, 0.0], abs=1e-12)
    # weighted mean components H 2.5/6 < T 2.9/6 = I 2.9/6 < O 3.1/6 (T, I tie)
    assert every["priority"] == "H,T,I,O"

    sector = groups[("sector", "10")]
    assert (sector["sector_code"], sector["region_code"]) == ("10", None)
    assert sector["n_firms"] == 2 and sector["weight_sum"] == pytest.approx(4.0)
    assert sector["tcc_mean"] == pytest.approx((tcc_a + 3 * tcc_b) / 4, abs=1e-12)
    assert sector["tcc_median"] == pytest.approx((tcc_a + tcc_b) / 2, abs=1e-12)
    assert sector["tcc_p25"] == pytest.approx(tcc_a + 0.25 * (tcc_b - tcc_a), abs=1e-12)
    assert sector["tcc_p75"] == pytest.approx(tcc_a + 0.75 * (tcc_b - tcc_a), abs=1e-12)
    assert sector["first_priority_share_h"] == pytest.approx(0.75, abs=1e-12)
    # T 1.7/4, H 1.3/4, I 1.9/4, O 1.9/4
    assert sector["priority"] == "H,T,I,O"

    region = groups[("region", "R1")]
    assert (region["sector_code"], region["region_code"]) == (None, "R1")
    assert region["tcc_mean"] == pytest.approx((tcc_a + 2 * tcc_c) / 3, abs=1e-12)
    assert region["share_good"] == pytest.approx(2 / 3, abs=1e-12)
    assert (region["n_fair"], region["n_good"]) == (1, 1)

    cell = groups[("sector_region", "20|R1")]
    assert (cell["sector_code"], cell["region_code"], cell["n_firms"]) == ("20", "R1", 1)
    assert cell["tcc_mean"] == pytest.approx(tcc_c, abs=1e-12)
    assert cell["weight_sum"] == pytest.approx(2.0)
    assert cell["priority"] == "I,T,H,O"
    assert set(groups) >= {("sector_region", "10|R1"), ("sector_region", "10|R2")}


def test_unweighted_round(methodology, build, kit):
    groups = _groups(build(_sheets(methodology, kit, weighted=False)), kit)
    every = groups[("all", "all")]
    assert every["weighted"] is False
    assert every["weight_sum"] == pytest.approx(3.0)
    assert every["tcc_mean"] == pytest.approx(sum(TCC.values()) / 3, abs=1e-12)
    assert every["share_fair"] == pytest.approx(2 / 3, abs=1e-12)
    shares = [every[f"first_priority_share_{code}"] for code in "thio"]
    assert shares == pytest.approx([1 / 3, 1 / 3, 1 / 3, 0.0], abs=1e-12)
    # plain means T 1.3/3 = H 1.3/3 < I 1.4/3 < O 1.5/3
    assert every["priority"] == "T,H,I,O"
