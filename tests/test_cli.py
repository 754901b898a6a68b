"""The ``skdropout`` command: every subcommand run through ``main([...])`` (and the entry
points through subprocesses) on small data written here, and its one-line errors."""

import csv
import io
import os
import pickle
import re
import signal
import subprocess
import sys
import urllib.error
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.datasets import load_diabetes

from skdropout.cli import main
from skdropout.datasets import _download
from test_datasets import idx_bytes, write_home

ROOT = Path(__file__).resolve().parents[1]


def run_main(capsys, *argv):
    """(exit status, stdout, stderr) of ``skdropout argv``."""
    try:
        status = main([str(a) for a in argv])
    except SystemExit as exc:  # argparse
        status = exc.code
    out, err = capsys.readouterr()
    return status, out, err


def assert_one_line_error(status, err, command, *fragments):
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"skdropout {command}: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], err
    assert "Traceback" not in err


@pytest.fixture
def diabetes_csv(tmp_path):
    """The diabetes data as a CSV with named columns, the target ``y`` and a text column."""
    data = load_diabetes()
    path = tmp_path / "diabetes.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([*data.feature_names, "y", "group"])
        for row, target in zip(data.data, data.target):
            writer.writerow([*(f"{v:.10g}" for v in row), target, "ab"[int(target > 150)]])
    return path


@pytest.fixture
def tiny_mnist(tmp_path, monkeypatch):
    """A data home holding a small MNIST-shaped data set (all digits in both splits)."""
    rng = np.random.default_rng(0)
    parts = {}
    for prefix, n in (("train", 100), ("t10k", 30)):
        labels = np.arange(n, dtype=np.uint8) % 10
        images = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
        images[np.arange(n), labels, :] = 255  # a row per class: learnable
        parts[f"{prefix}-images-idx3-ubyte"] = idx_bytes(images)
        parts[f"{prefix}-labels-idx1-ubyte"] = idx_bytes(labels)
    home = tmp_path / "mnist-home"
    write_home(home, parts)
    monkeypatch.setenv("SKDROPOUT_CACHE", str(tmp_path / "cache"))
    return home


# --- entry points and the parser -----------------------------------------------------------

def test_python_m_and_console_script():
    out = subprocess.run([sys.executable, "-m", "skdropout", "--version"], capture_output=True,
                         text=True, timeout=60, cwd=ROOT)
    assert out.returncode == 0 and out.stdout.startswith("skdropout ")
    script = Path(sys.executable).parent / "skdropout"
    out = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    for command in ("demo", "figure1", "table4", "sparsify", "fit"):
        assert command in out.stdout


def test_no_command_and_bad_option_are_one_line_errors(capsys):
    status, _, err = run_main(capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1 and "COMMAND" in err
    status, _, err = run_main(capsys, "sparsify", "--method", "logsum", "--dataset", "cifar")
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "invalid choice: 'cifar'" in err


def test_traceback_flag_reraises(tmp_path):
    from skdropout.cli._errors import CommandError

    with pytest.raises(CommandError, match="no such file"):
        main(["--traceback", "fit", str(tmp_path / "none.csv"), "--target", "y"])


def subprocess_env():
    """This process's environment without the cache folder the fixtures set (the compiled
    CPU loops are cached there too: a fresh folder would compile them again)."""
    return {k: v for k, v in os.environ.items() if k != "SKDROPOUT_CACHE"}


def run_without(module, cwd, *argvs):
    """``skdropout argv`` for each of ``argvs`` (until one fails) in a subprocess whose
    import system lacks ``module``."""
    code = f"""
import importlib.abc
import importlib.machinery
import sys


class Absent(importlib.abc.Loader):  # an import of {module} fails as if not installed
    def create_module(self, spec):
        raise ModuleNotFoundError(f"No module named {{spec.name!r}}", name=spec.name)

    def exec_module(self, module):
        pass


class Uninstalled:  # (a spec is returned: torch probes optional modules with find_spec)
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == {module!r}:
            return importlib.machinery.ModuleSpec(name, Absent())


sys.meta_path.insert(0, Uninstalled())
from skdropout.cli import main
sys.exit(next(filter(None, map(main, {[[str(a) for a in argv] for argv in argvs]!r})), 0))
"""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env=subprocess_env())


@pytest.mark.parametrize("module, command, argv", [
    ("torch", "sparsify", ["sparsify", "--method", "logsum"]),
    ("matplotlib", "figure1", ["figure1", "--out", "unused"]),
])
def test_missing_optional_dependency(tmp_path, module, command, argv):
    out = run_without(module, tmp_path, argv)
    assert_one_line_error(out.returncode, out.stderr, command, module, "skdropout[")
    assert not (tmp_path / "unused").exists()


def test_demo_and_table4_need_no_pandas(tiny_mnist, tmp_path):
    """The extras the README installs for them (deep, plot) do not bring pandas."""
    out = run_without("pandas", tmp_path, ["demo", "--epochs", "2", "--cv", "3"],
                      ["table4", "--epochs", "2", "--methods", "logsum", "--data-home",
                       tiny_mnist, "--out", tmp_path / "t4"])
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "skdropout-output" / "digits_training.png").is_file()
    with (tmp_path / "t4" / "table4.csv").open() as handle:
        (row,) = csv.DictReader(handle)
    assert row["method"] == "logsum" and row["epochs"] == "2"
    assert (tmp_path / "t4" / "figure2.png").stat().st_size > 0


# --- figure1 -------------------------------------------------------------------------------

def test_figure1_writes_a_png(tmp_path, capsys):
    import matplotlib.image as mpimg

    status, out, _ = run_main(capsys, "figure1", "--out", tmp_path / "fig")
    assert status == 0
    path = tmp_path / "fig" / "figure1.png"
    assert out.strip() == f"wrote {path}"
    image = mpimg.imread(path)
    assert image.shape[0] > 300 and image.shape[1] > 2 * image.shape[0] - 200


# --- fit -----------------------------------------------------------------------------------

def test_fit_prints_lam_support_and_score_and_saves(diabetes_csv, tmp_path, capsys):
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from skdropout.linear import IRLSRegressorCV

    model_path = tmp_path / "model.joblib"
    status, out, err = run_main(capsys, "fit", diabetes_csv, "--target", "y", "--drop", "group",
                                "--penalty", "logsum", "--param", "eps=0.5", "--cv", "3",
                                "--n-lams", "15", "--save", model_path)
    assert status == 0, err
    data = load_diabetes()
    names = list(data.feature_names)
    X, y = np.round(data.data, 12), data.target
    direct = make_pipeline(StandardScaler(), IRLSRegressorCV(
        penalty="logsum", penalty_params={"eps": 0.5}, cv=3, lams=15)).fit(X, y)
    cv_model = direct[-1]
    lam = float(re.search(r"chosen lam: (\S+)", out).group(1))
    assert lam == pytest.approx(cv_model.lam_, rel=1e-5)
    mse = float(re.search(r"CV mean squared error: (\S+)", out).group(1))
    assert mse == pytest.approx(-cv_model.cv_results_["mean_test_score"][cv_model.best_index_],
                                rel=1e-5)
    # The printed rows are the nonzero coefficients by column name, and the "original units"
    # column with its intercept predicts like the fitted pipeline.
    rows = re.findall(r"^  (\S+)\s+(\S+)\s+(\S+)$", out, flags=re.M)
    printed = {name: (float(std), float(raw)) for name, std, raw in rows
               if name != "standardised"}
    support = [names[j] for j in np.flatnonzero(cv_model.coef_)]
    assert [n for n in printed if n != "(intercept)"] == support
    raw = np.array([printed.get(n, (0.0, 0.0))[1] for n in names])
    np.testing.assert_allclose(X @ raw + printed["(intercept)"][1], direct.predict(X),
                               rtol=1e-4)
    saved = joblib.load(model_path)
    np.testing.assert_allclose(saved.predict(X), direct.predict(X), rtol=1e-6)


def test_fit_without_standardising(diabetes_csv, capsys):
    status, out, err = run_main(capsys, "fit", diabetes_csv, "--target", "y", "--features",
                                "bmi", "bp", "s5", "--no-standardize", "--cv", "3",
                                "--lams", "1.0", "0.1", "0.01", "--penalty", "l1", "--scoring",
                                "r2")
    assert status == 0, err
    assert "3 lams" in out and re.search(r"chosen lam: (1|0\.1|0\.01)\n", out)
    assert re.search(r"CV r2: 0\.\d+ \(standard error", out)
    assert "original units" not in out


def _ragged(path):
    path.write_text(path.read_text() + "1,2\n")


@pytest.mark.parametrize("argv, fragments, damage", [
    (["--target", "y"], ["no such file", "missing.csv"], "missing"),
    (["--target", "outcome"], ["no column 'outcome'", "columns are: age, sex"], None),
    (["--target", "y", "--drop", "grp"], ["no column 'grp'"], None),
    (["--target", "y"], ["column 'group'", "non-numeric value 'b'", "line 2"], None),
    (["--target", "group", "--drop", "y", "--task", "regression"],
     ["column 'group'", "non-numeric"], None),
    (["--target", "y", "--drop", "group"], ["column 'bmi'", "missing", "line 3"], "blank"),
    (["--target", "y", "--drop", "group"], ["line 444", "2 fields"], "ragged"),
    (["--target", "y", "--drop", "group", "--penalty", "lasso"], ["Unknown penalty 'lasso'",
                                                                  "logsum"], None),
    (["--target", "y", "--drop", "group", "--param", "eps"], ["NAME=VALUE"], None),
    (["--target", "y", "--drop", "group", "--param", "epsilon=1"], ["unknown parameter"],
     None),
    (["--target", "y", "--drop", "group", "--cv", "1"], ["cv"], None),
])
def test_fit_errors_are_one_line(diabetes_csv, capsys, argv, fragments, damage):
    path = diabetes_csv
    if damage == "missing":
        path = diabetes_csv.with_name("missing.csv")
    elif damage == "blank":
        lines = diabetes_csv.read_text().splitlines()
        cells = lines[2].split(",")
        cells[2] = ""
        lines[2] = ",".join(cells)
        diabetes_csv.write_text("\n".join(lines) + "\n")
    elif damage == "ragged":
        _ragged(diabetes_csv)
    status, _, err = run_main(capsys, "fit", path, *argv)
    assert_one_line_error(status, err, "fit", *fragments)


# --- sparsify ------------------------------------------------------------------------------

def test_sparsify_digits_reports_and_saves(tmp_path, capsys):
    from skdropout.cli._deep import load_dataset

    model_path = tmp_path / "net.pkl"
    status, out, err = run_main(capsys, "sparsify", "--method", "logsum", "--dataset", "digits",
                                "--epochs", "2", "--hidden", "16", "8", "--lr", "0.01",
                                "--no-progress", "--save", model_path)
    assert status == 0, err
    epochs = re.findall(r"^\s+(\d+)\s+\S+\s+(\S+)%\s+(\S+)%\s+\S+$", out, flags=re.M)
    assert [e[0] for e in epochs] == ["1", "2"]
    net = pickle.loads(model_path.read_bytes())
    X_train, y_train, X_test, y_test = load_dataset("digits", seed=0)
    error = np.mean(net.predict(X_test) != y_test)
    test_error, density = re.search(r"test error of the pruned network: (\S+)%\s+density: "
                                    r"(\S+)%", out).groups()
    assert float(test_error) == pytest.approx(100 * error, abs=0.006)
    assert float(density) == pytest.approx(100 * net.density_, abs=0.006)
    assert float(epochs[-1][2]) == pytest.approx(100 * net.density_, abs=0.006)
    assert len(net.history) == 2 and net.module_  # the pickled estimator is the fitted one


def test_sparsify_mnist_from_the_data_home(tiny_mnist, capsys):
    status, out, err = run_main(capsys, "sparsify", "--method", "vardrop_lr_ar", "--dataset",
                                "mnist", "--data-home", tiny_mnist, "--epochs", "1",
                                "--hidden", "8", "--no-progress")
    assert status == 0, err
    assert "100 training images" in out and "30 test images" in out
    assert "network 784-8-10" in out


def test_epoch_report_shows_the_seconds_of_short_epochs():
    from types import SimpleNamespace

    from skdropout.cli._progress import EpochReport

    stream = io.StringIO()
    history = [{"epoch": 1, "train_loss": 2.0, "valid_error": 0.5, "density": 1.0,
                "dur": 0.0412}]
    EpochReport(stream=stream).on_epoch_end(SimpleNamespace(history=history, max_epochs=1))
    assert stream.getvalue().split()[-1] == "0.041"


def test_sparsify_progress_bar_goes_to_stderr(capsys):
    status, out, err = run_main(capsys, "sparsify", "--method", "magnitude", "--epochs", "1",
                                "--hidden", "4")
    assert status == 0
    assert "it/s" in err and "it/s" not in out


@pytest.mark.parametrize("argv, fragments", [
    (["--method", "dropconnect"], ["unknown method 'dropconnect'", "vardrop_lr_ar"]),
    (["--method", "logsum", "--epochs", "0"], ["--epochs must be >= 1"]),
    (["--method", "logsum", "--device", "tpu"], ["--device must be cpu or cuda"]),
    (["--method", "logsum", "--device", "cuda"], ["CUDA is not available", "--device cpu"]),
    (["--method", "logsum", "--lam", "-1"], ["lam must be a finite number > 0"]),
])
def test_sparsify_errors_are_one_line(capsys, monkeypatch, argv, fragments):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    status, _, err = run_main(capsys, "sparsify", "--epochs", "1", "--hidden", "4", *argv)
    assert_one_line_error(status, err, "sparsify", *fragments)


def test_sparsify_mnist_missing_offline_names_the_folder(tmp_path, capsys, monkeypatch):
    def refuse(url):
        raise urllib.error.URLError("network is unreachable")

    monkeypatch.setattr(_download, "_fetch_url", refuse)
    monkeypatch.setenv("SKDROPOUT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # no MNIST cached anywhere
    status, _, err = run_main(capsys, "sparsify", "--method", "logsum", "--dataset", "mnist",
                              "--data-home", tmp_path / "empty", "--epochs", "1")
    assert_one_line_error(status, err, "sparsify", str(tmp_path / "empty" / "mnist"),
                          "MNIST not found")


# --- table4 --------------------------------------------------------------------------------

def test_table4_on_a_small_data_home(tiny_mnist, tmp_path, capsys):
    out_dir = tmp_path / "t4"
    status, out, err = run_main(capsys, "table4", "--epochs", "1", "--methods", "logsum",
                                "adaprox", "--data-home", tiny_mnist, "--out", out_dir)
    assert status == 0, err
    assert "logsum" in out and "adaprox" in out and f"results written to {out_dir}" in out
    written = {p.suffix for p in out_dir.rglob("*")}
    assert {".csv", ".png"} <= written


def test_table4_errors_are_one_line(tiny_mnist, tmp_path, capsys):
    status, _, err = run_main(capsys, "table4", "--epochs", "1", "--methods", "dropconnect",
                              "--data-home", tiny_mnist, "--out", tmp_path / "t4")
    assert_one_line_error(status, err, "table4", "dropconnect")


# --- demo ----------------------------------------------------------------------------------

def test_demo_reduced(tmp_path, capsys):
    out_dir = tmp_path / "demo"
    status, out, err = run_main(capsys, "demo", "--out", out_dir, "--epochs", "2", "--cv", "3")
    assert status == 0, err
    supports = re.findall(r"support of (.+?): (\d+) features: (.*)$", out, flags=re.M)
    assert [s[0] for s in supports] == ["IRLS (eta-trick)", "adaptive dropout"]
    assert supports[0][1:] == supports[1][1:]  # the same support from both sides
    gap = float(re.search(r"largest coefficient difference: (\S+) %", out).group(1))
    assert gap < 5.0
    objectives = re.search(r"objective \(eq\. 1\)\s+(\S+)\s+(\S+)", out).groups()
    assert float(objectives[1]) == pytest.approx(float(objectives[0]), rel=1e-3)
    assert "test error of the pruned network" in out
    for name in ("duality_coefficients.png", "diabetes_cv_path.png", "digits_training.png",
                 "figure1.png"):
        assert (out_dir / name).stat().st_size > 10_000
        assert str(out_dir / name) in out


def test_demo_unknown_method_fails_before_any_work(tmp_path, capsys):
    status, out, err = run_main(capsys, "demo", "--out", tmp_path / "d", "--method", "nope")
    assert_one_line_error(status, err, "demo", "unknown method 'nope'")
    assert out == "" and not (tmp_path / "d").exists()


# --- input checked before the work, files read in their encoding --------------------------

@pytest.mark.parametrize("sep", ["", ",,"])
def test_fit_separator_of_other_than_one_character(diabetes_csv, capsys, sep):
    status, _, err = run_main(capsys, "fit", diabetes_csv, "--target", "y", "--sep", sep)
    assert_one_line_error(status, err, "fit", "--sep must be one character", repr(sep))


def test_fit_reads_a_csv_with_a_byte_order_mark(diabetes_csv, capsys):
    diabetes_csv.write_bytes(b"\xef\xbb\xbf" + diabetes_csv.read_bytes())
    status, out, err = run_main(capsys, "fit", diabetes_csv, "--target", "y", "--features",
                                "age", "bmi", "--cv", "3", "--n-lams", "5")
    assert status == 0, err
    assert "chosen lam" in out


def test_fit_latin1_csv_names_the_file_and_the_encoding(tmp_path, capsys):
    path = tmp_path / "caf\u00e9.csv"
    rows = ["r\u00e9gion,x,y"] + [f"{'ab'[i % 2]}\u00e9,{i},{2 * i + i % 3}" for i in range(30)]
    path.write_bytes("\n".join(rows).encode("latin-1"))
    status, _, err = run_main(capsys, "fit", path, "--target", "y", "--features", "x")
    assert_one_line_error(status, err, "fit", str(path), "not utf-8 text", "--encoding")
    status, out, err = run_main(capsys, "fit", path, "--target", "y", "--features", "x",
                                "--encoding", "latin-1", "--cv", "3", "--n-lams", "5")
    assert status == 0, err
    status, _, err = run_main(capsys, "fit", path, "--target", "y", "--encoding", "klingon")
    assert_one_line_error(status, err, "fit", "unknown encoding 'klingon'")


@pytest.mark.parametrize("command", ["fit", "sparsify"])
def test_save_to_an_unwritable_path_fails_before_training(diabetes_csv, tmp_path, capsys,
                                                          command):
    argv = ([command, diabetes_csv, "--target", "y", "--drop", "group"] if command == "fit"
            else [command, "--method", "logsum", "--epochs", "1", "--hidden", "4"])
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for target in (tmp_path / "no-such-folder" / "model.out", a_file / "model.out"):
        status, out, err = run_main(capsys, *argv, "--save", target)
        assert_one_line_error(status, err, command, "--save", str(target), "cannot write there")
        assert out == ""  # nothing trained, nothing printed


@pytest.mark.parametrize("argv, fragments", [
    (["sparsify", "--method", "logsum", "--epochs", "1", "--hidden", "0"], ["--hidden", "0"]),
    (["sparsify", "--method", "logsum", "--epochs", "1", "--hidden", "8", "-5"],
     ["--hidden", "-5"]),
    (["sparsify", "--method", "logsum", "--epochs", "1", "--lr", "0"],
     ["--lr must be a finite number > 0"]),
    (["sparsify", "--method", "logsum", "--epochs", "1", "--batch-size", "0"],
     ["--batch-size must be >= 1"]),
    (["demo", "--epochs", "0"], ["--epochs must be >= 1"]),
    (["demo", "--epochs", "1", "--lam", "-3"], ["--lam must be a finite number > 0"]),
])
def test_training_options_are_checked_before_any_work(tmp_path, capsys, argv, fragments):
    status, out, err = run_main(capsys, *argv)
    assert_one_line_error(status, err, argv[0], *fragments)
    assert out == ""


# --- interrupts ----------------------------------------------------------------------------

def test_sparsify_interrupted_exits_130_and_resumes_from_its_checkpoint(tmp_path, capsys,
                                                                       monkeypatch):
    from skdropout.cli._progress import EpochReport

    argv = ["sparsify", "--method", "vardrop_lr_ar", "--epochs", "5", "--hidden", "16",
            "--lr", "0.01", "--no-progress"]
    status, straight, err = run_main(capsys, *argv, "--save", tmp_path / "straight.pkl")
    assert status == 0, err

    checkpoint, saved = tmp_path / "run.ckpt", tmp_path / "net.pkl"
    report = EpochReport.on_epoch_end

    def ctrl_c_at_epoch_3(self, net, **kwargs):
        if len(net.history) == 3:
            raise KeyboardInterrupt
        report(self, net, **kwargs)

    monkeypatch.setattr(EpochReport, "on_epoch_end", ctrl_c_at_epoch_3)
    status, out, err = run_main(capsys, *argv, "--checkpoint", checkpoint, "--save", saved)
    assert status == 130 and "interrupted" in err
    assert "test error" not in out and not saved.exists() and checkpoint.is_file()
    monkeypatch.undo()

    status, out, err = run_main(capsys, *argv, "--checkpoint", checkpoint, "--save", saved)
    assert status == 0, err
    epochs = re.findall(r"^\s+(\d+)\s+\S+\s+\S+%\s+\S+%\s+\S+$", out, flags=re.M)
    assert epochs == ["3", "4", "5"]
    net = pickle.loads(saved.read_bytes())
    assert len(net.history) == 5
    assert "checkpoint" not in dict(net.callbacks_)  # a refit starts afresh
    final = r"test error of the pruned network: .*"
    assert re.search(final, out).group() == re.search(final, straight).group()
    assert not checkpoint.exists()  # finished: nothing left to resume

    monkeypatch.setattr(EpochReport, "on_epoch_end", ctrl_c_at_epoch_3)
    assert run_main(capsys, *argv, "--checkpoint", checkpoint)[0] == 130
    monkeypatch.undo()
    status, out, err = run_main(capsys, *argv, "--lam", "0.5", "--checkpoint", checkpoint)
    assert_one_line_error(status, err, "sparsify", "checkpoint of another run")
    assert out == ""  # refused before the data load


def test_sigint_stops_sparsify_with_status_130(tmp_path):
    argv = [sys.executable, "-m", "skdropout", "sparsify", "--method", "logsum", "--epochs",
            "100000", "--hidden", "4", "--no-progress", "--save", str(tmp_path / "net.pkl")]
    # SIGINT as a terminal delivers it, even where this test runs in the background (a
    # shell's `&` starts its jobs with SIGINT ignored, and children inherit that)
    process = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**subprocess_env(), "OMP_NUM_THREADS": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    while "train loss" not in process.stdout.readline():  # training has begun
        assert process.poll() is None, process.stderr.read()
    process.stdout.readline()  # and finished an epoch
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert "test error" not in out and not (tmp_path / "net.pkl").exists()


def test_sparsify_damaged_checkpoint_is_a_one_line_error(tmp_path, capsys):
    damaged = tmp_path / "run.ckpt"
    damaged.write_bytes(b"not a checkpoint")
    status, out, err = run_main(capsys, "sparsify", "--method", "logsum", "--epochs", "1",
                                "--hidden", "4", "--checkpoint", damaged)
    assert_one_line_error(status, err, "sparsify", str(damaged), "unreadable checkpoint")
    assert out == ""


def test_fit_picks_the_classifier_for_a_categorical_target(tmp_path, capsys):
    from sklearn.preprocessing import StandardScaler

    from skdropout.linear import IRLSClassifierCV

    rng = np.random.default_rng(0)
    X = np.round(rng.standard_normal((120, 4)), 6)
    y = np.where(X[:, 0] - X[:, 2] + 0.5 * rng.standard_normal(120) > 0, "spam", "ham")
    path = tmp_path / "mail.csv"
    lines = ["a,b,c,d,label"] + [",".join([*map(str, row), lab]) for row, lab in zip(X, y)]
    path.write_text("\n".join(lines) + "\n")
    status, out, err = run_main(capsys, "fit", path, "--target", "label", "--penalty", "l1",
                                "--cv", "3", "--n-lams", "8")
    assert status == 0, err
    assert "IRLSClassifierCV" in out and "classes: ham, spam" in out
    direct = IRLSClassifierCV(penalty="l1", cv=3, lams=8).fit(
        StandardScaler().fit_transform(X), y)
    lam = float(re.search(r"chosen lam: (\S+)", out).group(1))
    assert lam == pytest.approx(direct.lam_, rel=1e-5)
    loss = float(re.search(r"CV log-loss: (\S+)", out).group(1))
    assert loss == pytest.approx(-direct.cv_results_["mean_test_score"][direct.best_index_],
                                 rel=1e-5)
    # integer codes with few values are classes too; --task regression overrides
    path.write_text("\n".join(l.replace("spam", "1").replace("ham", "0") for l in lines) + "\n")
    status, out, _ = run_main(capsys, "fit", path, "--target", "label", "--cv", "3",
                              "--n-lams", "4")
    assert status == 0 and "IRLSClassifierCV" in out
    status, out, _ = run_main(capsys, "fit", path, "--target", "label", "--cv", "3",
                              "--n-lams", "4", "--task", "regression")
    assert status == 0 and "IRLSRegressorCV" in out
