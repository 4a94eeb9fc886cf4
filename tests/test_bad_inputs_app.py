"""The bad-input corpus (:mod:`badfiles`) through the app's upload path.

Every case with an uploadable file goes through :func:`gridplan.appsupport.plan_from_uploads`,
the one function ``app.py`` calls with the uploaded bytes, and the error table the app shows
(:func:`gridplan.appsupport.problems_table`). Each must end in a
:class:`gridplan.ValidationError` (any other exception is what the app would show as a
traceback), whose messages name the rows, columns or keys of the case, give no Python keyword
or command-line flag as the fix, and name the widget (its label) where the case says which.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from badfiles import CASES, build, points_table, units_gpkg

import gridplan
from gridplan import appsupport as sup
from gridplan.i18n import t

#: advice in another interface's words, which an app user cannot act on
FOREIGN_WORDS = re.compile(
    r"fix_invalid=True|columns=\{|force=True|crs='|encoding='|source_crs=|"
    r"--(?:columns|fix-invalid|force|config|county-code|coords-crs|source-crs)\b"
)


def _upload_cases() -> list[str]:
    """Cases whose bad file the app can be given (not a flag, not an output path)."""
    import tempfile

    names = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, name in enumerate(sorted(CASES)):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            if build(name, folder).upload is not None:
                names.append(name)
    return names


UPLOAD_CASES = _upload_cases()


def _uploads(bad, tmp: Path) -> list[sup.Upload]:
    path = bad.upload
    uploads = [sup.Upload(bad.role, path.name, path.read_bytes(), bad.layer)]
    if bad.role != "units":
        good = units_gpkg(tmp, name="good_units.gpkg")
        uploads.insert(0, sup.Upload("units", good.name, good.read_bytes()))
    return uploads


@pytest.mark.parametrize("case", UPLOAD_CASES)
def test_bad_upload_is_a_clear_error(case, tmp_path):
    bad = build(case, tmp_path)
    with pytest.raises(gridplan.ValidationError) as info:
        sup.plan_from_uploads(
            _uploads(bad, tmp_path), rules=gridplan.PlanRules(), columns=bad.app_columns or None
        )
    table = sup.problems_table(info.value)
    assert len(table) >= 1
    text = "\n".join(table["message"])
    assert "Traceback" not in text
    for needle in bad.needles:
        assert needle in text, f"{needle!r} not in:\n{text}"
    assert not FOREIGN_WORDS.search(text), text
    if bad.app_fix is not None:
        assert t(bad.app_fix, "en").lower() in text.lower(), text


def test_the_upload_corpus_is_large():
    assert len(UPLOAD_CASES) >= 50


def test_column_mapping_names_the_coordinate_columns_of_an_upload(tmp_path):
    table = points_table(20).rename(columns={"lon": "东经", "lat": "北纬", "households": "户数"})
    data = table.to_csv(index=False).encode("utf-8")
    plan = sup.plan_from_uploads(
        [sup.Upload("units", "楼栋.csv", data)],
        rules=gridplan.PlanRules(),
        columns=sup.parse_columns("东经 = lon\n北纬 = lat\n户数 = households"),
    )
    assert len(plan.units) == 20 and int(plan.grids["households"].sum()) == 800


def test_swapped_upload_is_fixed_by_the_mapping_it_names(tmp_path):
    t_ = points_table(20)
    data = t_.assign(lon=t_["lat"], lat=t_["lon"]).to_csv(index=False).encode("utf-8")
    upload = sup.Upload("units", "s.csv", data)
    with pytest.raises(gridplan.ValidationError) as info:
        sup.plan_from_uploads([upload], rules=gridplan.PlanRules())
    assert "column mapping box (lat = lon, lon = lat)" in sup.problems_table(info.value).iloc[0, 2]
    plan = sup.plan_from_uploads(
        [upload], rules=gridplan.PlanRules(), columns={"lat": "lon", "lon": "lat"}
    )
    xy = plan.units.to_crs(4326).geometry
    assert xy.x.between(112, 113).all() and xy.y.between(37, 38).all()
