"""The Python package against the engine it wraps: a recipe run in-process, a student
scoring DataFrames and arrays exactly as the CLI does, and the scikit-learn-style
estimator's conventions. Data: the committed Adult sample (tests/data, see its README)."""

import os
import pickle
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.ensemble import HistGradientBoostingClassifier

import distillery

DATA = Path(__file__).resolve().parents[2] / "tests" / "data"


def adult():
    frame = pd.read_csv(DATA / "adult_sample.csv")
    y = frame.pop("income-per-year").to_numpy()
    for c in frame.select_dtypes(exclude="number").columns:
        frame[c] = frame[c].astype("category")
    return frame, y


@pytest.fixture(scope="module")
def soft_run(tmp_path_factory):
    """One recipe on the sample with precomputed soft labels, run in-process."""
    work = tmp_path_factory.mktemp("run")
    shutil.copy(DATA / "adult_soft.csv", work / "adult_soft.csv")
    (work / "recipe.toml").write_text(
        'name = "py"\n[data]\ntrain = "adult_soft.csv"\ntarget = "income-per-year"\n'
        '[teacher]\ncolumns = "teacher_p_"\n[student]\nhidden = [16]\n[distill]\nepochs = 8\n'
    )
    report = distillery.run(work / "recipe.toml", out_dir=work / "runs")
    return work, report


def test_run_returns_the_report_and_writes_the_run(soft_run):
    work, report = soft_run
    assert report["kind"] == "run" and report["name"] == "py"
    assert 0.5 < report["student"]["accuracy"] <= 1.0
    assert report["dataset"]["classes"] == ["<=50K", ">50K"]
    run_dir = work / "runs" / report["run_id"]
    assert (run_dir / "student.safetensors").is_file()
    assert (run_dir / "report.json").is_file()


def test_progress_reaches_a_python_callback_stage_by_stage(soft_run, tmp_path):
    work, _ = soft_run
    lines = []
    distillery.run(work / "recipe.toml", out_dir=tmp_path / "runs", progress=lines.append)
    stages = [l for l in lines if "epoch" not in l]
    assert stages[0].startswith("reading ")
    assert "labelling the transfer set with the teacher" in stages
    assert any(l.startswith("student: epoch 1 ") for l in lines), lines[:5]


def test_a_bad_recipe_is_a_value_error_naming_the_key(tmp_path):
    (tmp_path / "r.toml").write_text('[data]\ntrain = "x.csv"\ntarget = "y"\n[teacher]\ncolumns = "p_"\n[distill]\ntempreature = 2\n')
    with pytest.raises(ValueError, match="did you mean 'temperature'"):
        distillery.run(tmp_path / "r.toml", out_dir=tmp_path / "runs")


def test_the_same_seed_gives_the_same_student(soft_run, tmp_path):
    work, report = soft_run
    again = distillery.run(work / "recipe.toml", out_dir=tmp_path / "runs")
    first = (work / "runs" / report["run_id"] / "student.safetensors").read_bytes()
    second = (tmp_path / "runs" / again["run_id"] / "student.safetensors").read_bytes()
    assert first == second


def test_a_student_scores_frames_by_name_and_arrays_by_position(soft_run):
    work, report = soft_run
    student = distillery.Student.load(work / "runs" / report["run_id"] / "student.safetensors")
    assert student.classes == ["<=50K", ">50K"] and not student.quantized
    frame = pd.read_csv(DATA / "adult_sample.csv").head(50)
    by_name = student.predict_proba(frame.iloc[:, ::-1])  # column order does not matter
    by_position = student.predict_proba(frame[student.features].to_numpy(dtype=object))
    assert by_name.shape == (50, 2) and by_name.dtype == np.float32
    np.testing.assert_array_equal(by_name, by_position)
    np.testing.assert_allclose(by_name.sum(axis=1), 1.0, atol=1e-5)
    assert set(student.predict(frame)) <= set(student.classes)
    with pytest.raises(ValueError, match="lacks the student's feature column"):
        student.predict_proba(frame.drop(columns=["age"]))
    with pytest.raises(ValueError, match="columns but the student takes"):
        student.predict_proba(np.zeros((2, 3)))


def test_a_student_answers_what_the_cli_writes(soft_run, tmp_path):
    binary = os.environ.get("DISTILLERY_BIN")
    if not binary:
        if os.environ.get("DISTILLERY_REQUIRE_BIN"):
            pytest.fail("DISTILLERY_BIN is required here: the path of the distillery binary")
        pytest.skip("set DISTILLERY_BIN to compare with the CLI")
    work, report = soft_run
    model = work / "runs" / report["run_id"] / "student.safetensors"
    subprocess.run(
        [binary, "predict", "--model", str(model), "--input", str(DATA / "adult_sample.csv"),
         "--output", str(tmp_path / "scored.csv"), "--columns", "none", "--quiet"],
        check=True,
    )
    cli = pd.read_csv(tmp_path / "scored.csv")
    ours = distillery.Student.load(model).predict_proba(pd.read_csv(DATA / "adult_sample.csv"))
    np.testing.assert_allclose(ours, cli[["prob_<=50K", "prob_>50K"]].to_numpy(), rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def fitted():
    X, y = adult()
    teacher = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=0).fit(X, y)
    distilled = distillery.DistilledClassifier(teacher=teacher, random_state=0).fit(X, y)
    labels_only = distillery.DistilledClassifier(random_state=0).fit(X, y)
    return X, y, teacher, distilled, labels_only


class Contrarian:
    """A teacher that believes the opposite of a fitted model: any object with
    ``predict_proba`` (and optionally ``classes_``) can teach."""

    def __init__(self, model):
        self.model = model
        self.classes_ = model.classes_

    def predict_proba(self, X):
        return self.model.predict_proba(X)[:, ::-1]


def test_the_student_learns_what_its_teacher_says_not_only_the_labels(fitted):
    X, y, teacher, distilled, labels_only = fitted
    contrarian = distillery.DistilledClassifier(teacher=Contrarian(teacher), soft_weight=1.0).fit(X, y)
    # Taught only by a teacher that is wrong on purpose, the student is wrong with it...
    assert contrarian.score(X, y) < 0.4
    # ...while the same student on the labels, and one taught by the real teacher, are right.
    assert labels_only.score(X, y) > 0.75 and distilled.score(X, y) > 0.75
    assert distilled.report_["teacher"]["kind"].startswith("soft-label columns")


def test_the_estimator_keeps_scikit_learns_conventions(fitted):
    X, y, teacher, distilled, _ = fitted
    params = distilled.get_params()
    assert params["teacher"] is teacher and params["hidden"] == (64,)
    fresh = clone(distilled)
    assert not hasattr(fresh, "student_") and fresh.get_params()["random_state"] == 0
    assert fresh.set_params(hidden=(8,)).hidden == (8,)
    with pytest.raises(AttributeError, match="not fitted"):
        fresh.predict(X)
    assert list(distilled.classes_) == ["<=50K", ">50K"]
    assert distilled.predict_proba(X).shape == (len(X), 2)
    restored = pickle.loads(pickle.dumps(distilled))
    np.testing.assert_array_equal(restored.predict_proba(X), distilled.predict_proba(X))


def test_integer_labels_come_back_as_integers_and_arrays_work(fitted):
    X, y, _, _, _ = fitted
    numeric = X.select_dtypes(include="number").to_numpy()
    labels = (y == ">50K").astype(int)
    model = distillery.DistilledClassifier(hidden=(8,), epochs=5).fit(numeric, labels)
    assert model.classes_.tolist() == [0, 1]
    assert set(model.predict(numeric).tolist()) <= {0, 1}
    assert model.n_features_in_ == numeric.shape[1]


def test_a_teacher_that_does_not_know_a_class_is_refused(fitted):
    X, y, teacher, _, _ = fitted
    relabelled = np.where(y == ">50K", "rich", y)
    with pytest.raises(ValueError, match="does not know the class"):
        distillery.DistilledClassifier(teacher=teacher).fit(X, relabelled)


def test_export_onnx_and_the_bytes_round_trip(fitted, tmp_path):
    X, _, _, distilled, _ = fitted
    distilled.export_onnx(tmp_path / "student.onnx")
    assert (tmp_path / "student.onnx").stat().st_size > 1000
    again = distillery.Student.from_bytes(distilled.student_.to_bytes())
    np.testing.assert_array_equal(again.predict_proba(X), distilled.student_.predict_proba(X))
