"""Printed wall maps and notice boards (gridplan.printing) on the bundled Queenstown plan."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pypdfium2 as pdfium
import pytest

from gridplan.errors import ValidationError
from gridplan.printing import print_plan

REPO = Path(__file__).resolve().parents[1]
QT = REPO / "data" / "singapore_queenstown.gpkg"


@pytest.fixture(scope="module")
def plan_file(tmp_path_factory) -> Path:
    from gridplan.export import write_geopackage
    from gridplan.pipeline import plan

    layers = {n: gpd.read_file(QT, layer=n) for n in ("units", "communities", "barriers")}
    result = plan(layers.pop("units"), **layers)
    return write_geopackage(result, tmp_path_factory.mktemp("plan") / "plan.gpkg")


def _text(path: Path) -> str:
    pdf = pdfium.PdfDocument(str(path))
    return "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))


@pytest.mark.slow
def test_print_one_community_zh_and_en(plan_file, tmp_path):
    grids = gpd.read_file(plan_file, layer="grids")
    code = sorted(grids["community_code"])[0]
    mine = sorted(grids.loc[grids["community_code"] == code, "grid_code"])
    for lang in ("zh", "en"):
        out = tmp_path / lang
        r = print_plan(plan_file, out=out, lang=lang, community=code, version="v1")
        assert len(pdfium.PdfDocument(str(r.wallmaps))) == 1
        assert len(pdfium.PdfDocument(str(r.boards))) == len(mine)
        text = _text(r.wallmaps)
        assert all(c in text for c in mine)  # the full code table
        assert all(c in _text(r.boards) for c in mine)
        assert ("网格图" in text) == (lang == "zh")
        png = pdfium.PdfDocument(str(r.wallmaps))[0].render(scale=0.5).to_pil()
        png.save(tmp_path / f"wallmap_{lang}.png")  # kept to look at
        assert (np.asarray(png) < 250).mean() > 0.05  # drawn, not blank
    # the same inputs print to the same bytes
    again = print_plan(plan_file, out=tmp_path / "again", community=code, version="v1")
    assert again.wallmaps.read_bytes() == (tmp_path / "zh" / "wallmaps.pdf").read_bytes()
    assert again.boards.read_bytes() == (tmp_path / "zh" / "boards.pdf").read_bytes()


def test_refuses_existing_outputs_and_bad_options(plan_file, tmp_path):
    (tmp_path / "wallmaps.pdf").write_bytes(b"keep")
    with pytest.raises(ValidationError, match="force=True"):
        print_plan(plan_file, out=tmp_path)
    assert (tmp_path / "wallmaps.pdf").read_bytes() == b"keep"
    with pytest.raises(ValidationError, match="A3, A4"):
        print_plan(plan_file, out=tmp_path / "x", paper="B5")  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="font"):
        print_plan(plan_file, out=tmp_path / "y", font=tmp_path / "none.ttf")
    with pytest.raises(ValidationError, match="not a community"):
        print_plan(plan_file, out=tmp_path / "z", community="nope")


def test_cli_print_refuses_to_overwrite(plan_file, tmp_path):
    from typer.testing import CliRunner

    from gridplan.cli import app

    (tmp_path / "boards.pdf").write_bytes(b"keep")
    result = CliRunner().invoke(app, ["print", str(plan_file), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "--force" in result.output and "Traceback" not in result.output
    assert (tmp_path / "boards.pdf").read_bytes() == b"keep"


@pytest.mark.slow
def test_dedicated_categories_print_in_words_on_chinese_boards(tmp_path):
    from gridplan.export import write_geopackage
    from gridplan.i18n import value_label
    from gridplan.pipeline import plan

    src = REPO / "data" / "taiyuan.gpkg"
    layers = {n: gpd.read_file(src, layer=n) for n in ("units", "dedicated", "barriers")}
    ded = layers["dedicated"]
    # two parks and a market, so the community prints few boards
    layers["dedicated"] = pd.concat(
        [ded[ded["category"] == "park"].head(2), ded[ded["category"] == "market"].head(1)]
    )
    result = plan(layers.pop("units"), **layers)
    path = write_geopackage(result, tmp_path / "plan.gpkg")
    ded = result.grids[result.grids["kind"] == "dedicated"]
    park = ded[ded["category"] == "park"]
    assert len(park), "the sample has park grids"
    community = str(park["community_code"].iloc[0])
    r = print_plan(path, out=tmp_path / "zh", community=community, paper="A4")
    text = _text(r.boards)
    assert value_label("category", "park", "zh") in text  # 公园
    assert "park" not in text and "business" not in text and "market" not in text
    en = print_plan(path, out=tmp_path / "en", community=community, lang="en", paper="A4")
    assert "park" in _text(en.boards)
