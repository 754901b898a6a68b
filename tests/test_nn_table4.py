"""The Table 4 runner's bookkeeping: table beside the paper's numbers, Figure 2 files, input
checks, and runs that survive an interrupt (the training itself is the benchmark in
benchmarks/table4)."""

import csv
import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("skorch")
pytest.importorskip("matplotlib")

from skdropout.experiments import PAPER_TABLE4, collect_table4, run_table4  # noqa: E402
from skdropout.experiments import table4  # noqa: E402
from skdropout.experiments._atomic import write_text_atomic  # noqa: E402
from skdropout.nn import LinearLRDecay  # noqa: E402
from test_cli import ROOT, subprocess_env, tiny_mnist  # noqa: E402,F401


def write_curve(path, rows):
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def read_curve(path):
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_collect_table4_writes_table_and_figures_of_finished_methods(tmp_path):
    for i, method in enumerate(["logsum", "vardrop_lr", "adaprox"]):
        write_curve(tmp_path / f"{method}.csv", [
            {"epoch": e, "valid_error": 5.0 - e + i, "density": 1.0 / (e + i), "train_loss": 1.0,
             "epoch_time_s": 2.0, "time_s": 2.0 * e} for e in (1, 2)])
        if method == "adaprox":
            continue  # a curve without a result: not finished, in neither table nor figure
        (tmp_path / f"{method}.json").write_text(json.dumps(
            {"method": method, "epochs": 2, "lam": 1e-3, "lr": 1e-4, "test_error": 2.5,
             "density": 0.1, "wall_time_s": 4.0}))
    table = collect_table4(tmp_path)
    assert [row["method"] for row in table] == ["vardrop_lr", "logsum"]  # Table 4's order
    logsum = table[1]
    assert logsum["paper_test_error_%"] == PAPER_TABLE4["logsum"]["test_error"]
    assert logsum["paper_density"] == PAPER_TABLE4["logsum"]["density"]
    assert [row["method"] for row in read_curve(tmp_path / "table4.csv")] == ["vardrop_lr",
                                                                              "logsum"]
    for name in ("table4.csv", "figure2.png", "figure2_published.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


@pytest.mark.parametrize("kwargs,match", [({"methods": ["dropconnect"]}, "Unknown Table 4"),
                                          ({"epochs": 0}, "epochs must be")])
def test_run_table4_rejects_bad_input_before_loading_data(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_table4(out=tmp_path, data_home=tmp_path / "nowhere", **kwargs)


def interrupt_at(monkeypatch, epoch):
    """Ctrl-C at the end of ``epoch`` (before it is recorded), as a user's would come."""
    step_lr = LinearLRDecay.on_epoch_end  # the decay per epoch runs as before the interrupt

    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == epoch:
            raise KeyboardInterrupt
        step_lr(self, net, **kwargs)

    monkeypatch.setattr(LinearLRDecay, "on_epoch_end", on_epoch_end, raising=False)


@pytest.mark.parametrize("method", ["logsum", "vardrop_lr_ar"])
def test_interrupted_run_resumes_to_the_uninterrupted_result(tiny_mnist, tmp_path,
                                                            monkeypatch, method):
    settings = dict(methods=[method], epochs=4, data_home=tiny_mnist, batch_size=32)
    straight = run_table4(out=tmp_path / "straight", **settings)

    out = tmp_path / "cut"
    interrupt_at(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        run_table4(out=out, **settings)
    assert not (out / f"{method}.json").exists()  # not recorded as finished
    assert [r["epoch"] for r in read_curve(out / f"{method}.csv")] == ["1", "2"]
    assert (out / f"{method}.checkpoint.pt").is_file()
    assert collect_table4(out) == []
    monkeypatch.undo()

    resumed = run_table4(out=out, **settings)
    cut, whole = read_curve(out / f"{method}.csv"), read_curve(tmp_path / "straight" /
                                                               f"{method}.csv")
    assert [r["epoch"] for r in cut] == ["1", "2", "3", "4"]
    for key in ("valid_error", "density", "train_loss"):  # the same run, resumed
        np.testing.assert_allclose([float(r[key]) for r in cut],
                                   [float(r[key]) for r in whole], rtol=1e-6)
    for key in ("test_error_%", "density", "epochs"):
        assert resumed[0][key] == pytest.approx(straight[0][key], rel=1e-6)
    assert not (out / f"{method}.checkpoint.pt").exists()


def test_run_interrupted_after_its_last_epoch_is_stored_without_training(tiny_mnist, tmp_path,
                                                                        monkeypatch):
    from skdropout.nn import SparseNetClassifier

    settings = dict(methods=["vardrop_lr_ar"], epochs=2, data_home=tiny_mnist)
    (straight,) = run_table4(out=tmp_path / "straight", **settings)

    def ctrl_c(path, text):
        if path.suffix == ".json":
            raise KeyboardInterrupt
        write_text_atomic(path, text)

    monkeypatch.setattr(table4, "write_text_atomic", ctrl_c)  # storing the result
    with pytest.raises(KeyboardInterrupt):
        run_table4(out=tmp_path / "cut", **settings)
    monkeypatch.undo()
    assert not (tmp_path / "cut" / "vardrop_lr_ar.json").exists()

    def no_training(self, *args, **kwargs):
        raise AssertionError("trained again although every epoch is in the checkpoint")

    monkeypatch.setattr(SparseNetClassifier, "partial_fit", no_training)
    (resumed,) = run_table4(out=tmp_path / "cut", **settings)
    del resumed["wall_time_s"], straight["wall_time_s"]
    assert resumed == straight  # lam = 1/N of the real training set, test error, density


def test_rerun_keeps_finished_methods_and_refuses_other_settings(tiny_mnist, tmp_path,
                                                                 monkeypatch):
    settings = dict(methods=["logsum"], epochs=2, data_home=tiny_mnist, out=tmp_path)
    run_table4(**settings)
    files = {p.name: p.read_bytes() for p in tmp_path.glob("logsum.*")}

    def no_training(*args, **kwargs):
        raise AssertionError("a finished method was trained again")

    monkeypatch.setattr("skdropout.experiments._checkpoint.fit_resumable", no_training)
    table = run_table4(**settings)
    assert [row["method"] for row in table] == ["logsum"]
    assert {p.name: p.read_bytes() for p in tmp_path.glob("logsum.*")} == files
    with pytest.raises(ValueError, match="finished run with other settings"):
        run_table4(**{**settings, "epochs": 3})
    assert {p.name: p.read_bytes() for p in tmp_path.glob("logsum.*")} == files


def test_sigterm_stops_the_command_which_resumes(tiny_mnist, tmp_path):
    """``kill`` (SIGTERM) of ``skdropout table4``: exit 130, no result recorded; the same
    command again finishes the run from its checkpoint with all its epochs."""
    epochs = 40
    argv = [sys.executable, "-m", "skdropout", "table4", "--epochs", str(epochs), "--methods",
            "logsum", "--data-home", str(tiny_mnist), "--out", str(tmp_path / "t4")]
    env = {**subprocess_env(), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "t4" / "logsum.checkpoint.pt"
    deadline = time.monotonic() + 90
    while not checkpoint.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert not (tmp_path / "t4" / "logsum.json").exists()
    done = len(read_curve(tmp_path / "t4" / "logsum.csv"))
    assert 1 <= done < epochs

    finish = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=300)
    assert finish.returncode == 0, finish.stderr
    curve = read_curve(tmp_path / "t4" / "logsum.csv")
    assert [int(r["epoch"]) for r in curve] == list(range(1, epochs + 1))
    assert json.loads((tmp_path / "t4" / "logsum.json").read_text())["epochs"] == epochs


def test_run_table4_sets_the_papers_settings_explicitly(tiny_mnist, tmp_path, monkeypatch):
    # the estimators' defaults are chosen for users (KL warm-up, log alpha -8, a learning
    # rate of its own for log-scale parameters, a per-batch decay); Table 4 runs the
    # authors' settings and records them
    from skdropout.nn import LinearLRDecay, SparseNetClassifier

    seen = {}
    fit = SparseNetClassifier.fit

    def recording_fit(self, *args, **kwargs):
        out = fit(self, *args, **kwargs)
        seen[self.method] = self
        return out

    monkeypatch.setattr(SparseNetClassifier, "fit", recording_fit)
    run_table4(methods=["vardrop_lr", "logsum"], epochs=1, out=tmp_path, data_home=tiny_mnist)
    for method, net in seen.items():
        lr = PAPER_TABLE4[method]["lr"]
        # one lr for every parameter (the decay's lr_0 of every group)
        assert {g["initial_lr"] for g in net.optimizer_.param_groups} == {lr}
        decay = dict(net.callbacks_)["lr_decay"]
        assert isinstance(decay, LinearLRDecay) and decay.step_every == "epoch"
        record = json.loads((tmp_path / f"{method}.json").read_text())
        assert record["estimator_params"]["log_lr"] == lr
    assert seen["vardrop_lr"].method_options_["init_log_alpha"] == -5.0
    assert dict(seen["vardrop_lr"].callbacks_)["kl_warmup"].epochs == 0.0


# --- the authors' protocol -----------------------------------------------------------------

def test_split_is_the_authors_skorch_split():
    """skorch's CVSplit(0.2, random_state=42) (ValidSplit now), not stratified, draws the
    same 80/20 split over the same sample order."""
    import torch
    from skorch.dataset import ValidSplit

    y = np.arange(1000) % 10
    train, valid = ValidSplit(0.2, random_state=42)(torch.utils.data.TensorDataset(
        torch.zeros(1000, 1)), y)
    tr, va = table4._split(1000)
    assert (len(tr), len(va)) == (800, 200)
    np.testing.assert_array_equal(tr, train.indices)
    np.testing.assert_array_equal(va, valid.indices)


def test_inputs_are_standardised_with_the_authors_mean_and_std(tiny_mnist, tmp_path,
                                                              monkeypatch):
    from skdropout.datasets import fetch_mnist
    from skdropout.experiments import _checkpoint

    seen = {}
    fit = _checkpoint.fit_resumable

    def record(net, X, y, *args, **kwargs):
        seen["X"], seen["y"] = X, y
        return fit(net, X, y, *args, **kwargs)

    monkeypatch.setattr(_checkpoint, "fit_resumable", record)
    run_table4(methods=["logsum"], epochs=1, data_home=tiny_mnist, out=tmp_path)
    X, y = fetch_mnist(data_home=tiny_mnist, subset="train", return_X_y=True)
    tr, _ = table4._split(len(X))
    expected = (X[tr].astype(np.float64) - 0.1307) / 0.3081  # an independent computation
    assert seen["X"].dtype == np.float32
    np.testing.assert_allclose(seen["X"], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(seen["y"], y[tr])


def test_each_result_reports_pruned_and_unpruned_errors_and_every_setting(tiny_mnist,
                                                                         tmp_path):
    rows = run_table4(methods=["vardrop_lr_ar", "eta_trick"], epochs=2, data_home=tiny_mnist,
                      out=tmp_path, batch_size=32)
    vd = json.loads((tmp_path / "vardrop_lr_ar.json").read_text())
    eta = json.loads((tmp_path / "eta_trick.json").read_text())
    for res in (vd, eta):
        assert 0 <= res["test_error"] <= 100 and 0 <= res["test_error_unpruned"] <= 100
        params = res["estimator_params"]
        assert params["callbacks__lr_decay__step_every"] == "epoch"
        assert params["optimizer"] == "torch.optim.adam.Adam"
        assert params["optimizer__betas"] == [0.9, 0.999]
        assert params["batch_size"] == 32 and params["iterator_train__shuffle"] is True
        assert res["protocol"]["input_mean"] == 0.1307 and res["protocol"]["input_std"] == 0.3081
    assert vd["lam"] == pytest.approx(1 / 60000)  # N = 60,000, not the 80 trained on
    assert vd["estimator_params"]["callbacks__kl_warmup__epochs"] == 0.0
    assert vd["estimator_params"]["optimizer__eps"] == pytest.approx(1e-8 / 60000)
    assert eta["estimator_params"]["optimizer__eps"] == 1e-8
    assert vd["method_options"] == {"init_log_alpha": -5.0, "init_weight_std": 0.02,
                                    "init_log_sigma2": -10.0}
    assert eta["lam"] == 1e-3 and eta["estimator_params"]["penalty"] == "logsum"
    assert eta["estimator_params"]["penalty_params"] == {"eps": 2.0}
    assert eta["method_options"] == {"init_log_eta": 5.0, "log_eta_decay": 1e-3}
    assert eta["estimator_params"]["lr"] == PAPER_TABLE4["eta_trick"]["lr"]
    table = {row["method"]: row for row in read_curve(tmp_path / "table4.csv")}
    assert float(table["eta_trick"]["test_error_unpruned_%"]) == pytest.approx(
        eta["test_error_unpruned"], rel=1e-4)
    assert table["eta_trick"]["paper_network"] == "unpruned"
    assert table["vardrop_lr_ar"]["paper_network"] == "pruned"
    assert [r["test_error_%"] for r in rows] == [vd["test_error"], eta["test_error"]]


def test_unpruned_evaluation_uses_every_weight_and_restores_pruning():
    import torch

    from skdropout.nn import LeNet300100, SparseNetClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 6)).astype(np.float32)
    y = np.arange(60) % 3
    net = SparseNetClassifier(LeNet300100, module__in_features=6, module__hidden=(5,),
                              module__n_classes=3, method="logsum", lam=1e-3, max_epochs=1,
                              random_state=0, verbose=0).fit(X, y)
    first, last = net.sparse_layers()
    with torch.no_grad():  # prune most of the first layer (keep probability < 0.05)
        first.weight[:, :4] = 1e-6
        last.weight[0] *= 5.0
    assert net.density_ < 1.0

    def forward(w1, w2):  # an independent forward pass of the two-layer network
        h = np.maximum(X @ w1.T + first.bias.detach().numpy(), 0.0)
        return np.argmax(h @ w2.T + last.bias.detach().numpy(), axis=1)

    w1, w2 = first.weight.detach().numpy(), last.weight.detach().numpy()
    np.testing.assert_array_equal(table4.evaluate_unpruned(net, X), forward(w1, w2))
    m1, m2 = first.mask().numpy(), last.mask().numpy()
    np.testing.assert_array_equal(net.predict(X), forward(w1 * m1, w2 * m2))  # restored
    assert first.prune_at_eval and last.prune_at_eval


def test_table_shows_the_learning_rate_trained_with(tiny_mnist, tmp_path):
    (row,) = run_table4(methods=["logsum"], epochs=1, data_home=tiny_mnist, out=tmp_path,
                        params={"lr": 3e-3})
    assert row["lr"] == 3e-3 and PAPER_TABLE4["logsum"]["lr"] == 1e-4


def test_collect_only_assembles_the_finished_methods(tmp_path, capsys):
    from skdropout.cli import main

    (tmp_path / "logsum.json").write_text(json.dumps(
        {"method": "logsum", "epochs": 2, "lam": 1e-3, "lr": 1e-4, "test_error": 2.5,
         "test_error_unpruned": 2.0, "density": 0.1, "wall_time_s": 4.0}))
    assert main(["table4", "--collect", "--out", str(tmp_path), "--data-home",
                 str(tmp_path / "nowhere")]) == 0
    (row,) = read_curve(tmp_path / "table4.csv")
    assert (row["test_error_%"], row["test_error_unpruned_%"]) == ("2.5", "2.0")
    assert "test_error_unpruned_%" in capsys.readouterr().out


def test_adam_with_eps_over_n_on_the_loss_over_n_takes_the_authors_steps():
    """The runner trains on cross-entropy + KL / N with Adam's eps / N; the authors train on
    N cross-entropy + KL with eps: the same parameters after every step."""
    import torch

    torch.manual_seed(0)
    grads = [torch.randn(50, dtype=torch.float64) * 1e-3 for _ in range(20)]
    n = 60000.0
    ours = torch.zeros(50, dtype=torch.float64, requires_grad=True)
    theirs = torch.zeros(50, dtype=torch.float64, requires_grad=True)
    opt_ours = torch.optim.Adam([ours], lr=1e-3, eps=1e-8 / n)
    opt_theirs = torch.optim.Adam([theirs], lr=1e-3, eps=1e-8)
    for g in grads:
        ours.grad, theirs.grad = g.clone(), g * n
        opt_ours.step()
        opt_theirs.step()
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-15)
    settings = table4.protocol_settings("vardrop_lr")
    assert settings["optimizer__eps"] == pytest.approx(1e-8 / n, rel=1e-12)
