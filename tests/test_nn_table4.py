"""The Table 4 runner's bookkeeping: table beside the paper's numbers, Figure 2 files, input
checks (the training itself is the benchmark in benchmarks/table4)."""

import json

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("skorch")
pytest.importorskip("matplotlib")

from skdropout.experiments import PAPER_TABLE4, collect_table4, run_table4  # noqa: E402


def test_collect_table4_writes_table_and_figures(tmp_path):
    for i, method in enumerate(["logsum", "vardrop_lr"]):
        curve = pd.DataFrame({"epoch": [1, 2], "valid_error": [5.0, 3.0 + i],
                              "density": [1.0, 0.1 * (i + 1)], "train_loss": [1.0, 0.5],
                              "epoch_time_s": [2.0, 2.0], "time_s": [2.0, 4.0]})
        curve.to_csv(tmp_path / f"{method}.csv", index=False)
        (tmp_path / f"{method}.json").write_text(json.dumps(
            {"method": method, "epochs": 2, "lam": 1e-3, "lr": 1e-4, "test_error": 2.5,
             "density": 0.1, "wall_time_s": 4.0}))
    table = collect_table4(tmp_path)
    assert list(table["method"]) == ["vardrop_lr", "logsum"]  # Table 4's order
    row = table.set_index("method").loc["logsum"]
    assert row["paper_test_error_%"] == PAPER_TABLE4["logsum"]["test_error"]
    assert row["paper_density"] == PAPER_TABLE4["logsum"]["density"]
    for name in ("table4.csv", "figure2.png", "figure2_published.png"):
        assert (tmp_path / name).stat().st_size > 0


@pytest.mark.parametrize("kwargs,match", [({"methods": ["dropconnect"]}, "Unknown Table 4"),
                                          ({"epochs": 0}, "epochs must be")])
def test_run_table4_rejects_bad_input_before_loading_data(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_table4(out=tmp_path, data_home=tmp_path / "nowhere", **kwargs)
