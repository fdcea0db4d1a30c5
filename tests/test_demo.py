"""The README's main job: ``python -m skcf.demo`` on the raw road."""

import warnings

import numpy as np
import pytest


@pytest.mark.slow
def test_demo_runs_the_raw_road_end_to_end(tmp_path, capsys):
    from skcf.demo import run

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows, recourse = run(out=tmp_path, n_queries=15, epochs=10, seed=0)
    out = capsys.readouterr().out
    assert (tmp_path / "skcf_demo.png").stat().st_size > 10_000
    assert "applicant" in out and "→" not in out.splitlines()[0]
    names = [r["generator"] for r in rows]
    assert "ElasticNetGenerator" in names and "GrowingSpheresGenerator" in names
    for r in rows:  # every claim checked by the pipeline's own predict
        assert r["violations"] == 0, r
        assert np.isnan(r["judged"]) or r["judged"] == 1.0, r
    assert np.mean([r["validity"] for r in rows]) >= 0.8
    # recourse in original units: the raw frame's own columns and dtypes
    assert list(recourse.X_cf.columns) == list(recourse.X.columns)
    assert (recourse.X_cf.dtypes == recourse.X.dtypes).all()
    assert all(isinstance(t, str) and t.endswith(".") for t in recourse.to_text())
