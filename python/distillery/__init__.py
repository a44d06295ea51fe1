"""distillery: distil a big, slow teacher model into a small, fast student, in Rust.

Three front doors:

- ``run("recipe.toml")`` runs a recipe in-process, exactly as ``distillery run`` does, and
  returns the report as a dict.
- ``Student.load(path).predict_proba(X)`` scores a pandas DataFrame (by column name) or a
  NumPy array (features in the student's order) and returns NumPy probabilities, equal to
  what ``distillery predict`` writes.
- ``DistilledClassifier(teacher=fitted_model)`` is a scikit-learn-style estimator: ``fit``
  asks the teacher's ``predict_proba`` for soft labels and distils a small MLP in Rust.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from ._distillery import Student as _Student
from ._distillery import __version__
from ._distillery import run as _run

__all__ = ["run", "Student", "DistilledClassifier", "__version__"]


def run(
    recipe: os.PathLike | str,
    out_dir: os.PathLike | str = "runs",
    seed: Optional[int] = None,
    progress: Optional[Callable[[str], None]] = None,
) -> dict:
    """Runs a recipe in-process and returns its report (``report.json``) as a dict.

    The run directory is ``Path(out_dir) / report["run_id"]``. The student is not
    registered (that is the CLI's job). ``seed`` overrides ``[distill] seed``;
    ``progress`` (e.g. ``print``) receives one line per stage, epoch and finished job. A
    bad recipe or data raises ``ValueError``; anything else ``RuntimeError``.
    """
    report, _ = _run(Path(recipe), Path(out_dir), seed, progress)
    return json.loads(report)


def _numeric(values: np.ndarray) -> Optional[bytes]:
    """Float64 bytes when every cell is a number (or missing), else None."""
    if values.dtype.kind in "iuf":
        return np.ascontiguousarray(values, dtype="<f8").tobytes()
    if values.dtype.kind == "O":
        cells = [v for v in values if not _missing(v)]
        if cells and all(isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool) for v in cells):
            return np.array([np.nan if _missing(v) else float(v) for v in values], dtype="<f8").tobytes()
    return None


def _missing(v: Any) -> bool:
    """None, NaN or pandas' NA."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return True
    pandas = sys.modules.get("pandas")
    return pandas is not None and v is pandas.NA


def _text(values: np.ndarray) -> list:
    """Text cells, None for missing."""
    return [None if _missing(v) else str(v) for v in values]


def _column(values: Any):
    """One feature column in the form the Rust side takes."""
    array = np.asarray(values)
    if array.dtype.kind == "b":
        return [str(bool(v)) for v in array]
    numbers = _numeric(array)
    return numbers if numbers is not None else _text(array)


def _is_frame(X: Any) -> bool:
    return hasattr(X, "columns") and hasattr(X, "iloc")


def _columns(X: Any, features: Sequence[str]) -> list:
    """The feature columns of X: a DataFrame by name, anything else by position."""
    if _is_frame(X):
        missing = [f for f in features if f not in X.columns]
        if missing:
            raise ValueError(
                f"the input lacks the student's feature column(s) {missing}; "
                f"it has {list(X.columns)}"
            )
        return [_column(X[f].to_numpy()) for f in features]
    array = np.asarray(X)
    if array.dtype.kind not in "biuf":
        # Mixed rows: keep each cell as it is (NumPy would turn numbers into strings).
        array = np.asarray(X, dtype=object)
    if array.ndim != 2:
        raise ValueError(f"X must be 2-dimensional (rows × features), got shape {array.shape}")
    if array.shape[1] != len(features):
        raise ValueError(
            f"X has {array.shape[1]} columns but the student takes {len(features)}: {list(features)}"
        )
    return [_column(array[:, j]) for j in range(array.shape[1])]


class Student:
    """A trained student (fp32 or int8): raw columns in, class probabilities out."""

    def __init__(self, inner: _Student):
        self._inner = inner

    @classmethod
    def load(cls, path: os.PathLike | str) -> "Student":
        """Loads ``student.safetensors`` or ``student.int8.safetensors``."""
        return cls(_Student.load(Path(path)))

    @classmethod
    def from_bytes(cls, data: bytes) -> "Student":
        """A student from the bytes ``to_bytes`` returned."""
        return cls(_Student.from_bytes(data))

    def to_bytes(self) -> bytes:
        """The student's safetensors file, as bytes."""
        return self._inner.to_bytes()

    @property
    def classes(self) -> list:
        """Class names, in the order of the probability columns."""
        return list(self._inner.classes)

    @property
    def features(self) -> list:
        """Input feature names, in order."""
        return [name for name, _ in self._inner.features]

    @property
    def quantized(self) -> bool:
        """True for an int8 student."""
        return self._inner.quantized

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities, ``n × len(classes)`` float32, for a DataFrame (columns matched by
        name) or a 2-D array (features in ``features`` order)."""
        columns = _columns(X, self.features)
        raw = self._inner.predict_proba_columns(columns)
        return np.frombuffer(raw, dtype="<f4").reshape(-1, len(self.classes)).copy()

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class per row."""
        return np.asarray(self.classes, dtype=object)[self.predict_proba(X).argmax(axis=1)]

    def export_onnx(self, path: os.PathLike | str) -> None:
        """Writes the student as ONNX (its encoder included: raw columns in)."""
        self._inner.export_onnx(Path(path))

    def save(self, path: os.PathLike | str) -> None:
        """Writes the student's safetensors file."""
        Path(path).write_bytes(self.to_bytes())


try:  # scikit-learn is optional: with it, the estimator is a true BaseEstimator.
    from sklearn.base import BaseEstimator as _Base
    from sklearn.base import ClassifierMixin as _Mixin
except ImportError:  # pragma: no cover - exercised only without scikit-learn
    class _Base:  # type: ignore[no-redef]
        """get_params / set_params from the constructor's signature."""

        def get_params(self, deep: bool = True) -> dict:
            import inspect

            names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
            return {n: getattr(self, n) for n in names}

        def set_params(self, **params):
            for k, v in params.items():
                setattr(self, k, v)
            return self

    class _Mixin:  # type: ignore[no-redef]
        def score(self, X, y, sample_weight=None):
            return float(np.average(self.predict(X) == np.asarray(y), weights=sample_weight))


_TARGET = "__distillery_target__"
_SOFT = "__distillery_teacher_p_"


class DistilledClassifier(_Mixin, _Base):
    """A small MLP distilled from ``teacher`` (any object with ``predict_proba``: a
    scikit-learn pipeline, LightGBM, XGBoost, a PyTorch wrapper) on the rows given to
    ``fit``. With ``teacher=None`` the same student learns from the labels alone.

    Parameters left at ``None`` take the recipe defaults (see the README's recipe
    reference). ``test_fraction`` of the rows are held out so ``report_`` holds honest
    scores (accuracy, fidelity to the teacher, calibration, slices); ``validation_fraction``
    stops training early.
    """

    def __init__(
        self,
        teacher: Any = None,
        hidden: Sequence[int] = (64,),
        temperature: Optional[float] = None,
        soft_weight: Optional[float] = None,
        epochs: Optional[int] = None,
        batch_size: Optional[int] = None,
        learning_rate: Optional[float] = None,
        patience: Optional[int] = None,
        quantize: bool = False,
        checks: bool = False,
        validation_fraction: float = 0.1,
        test_fraction: float = 0.1,
        random_state: int = 0,
    ):
        self.teacher = teacher
        self.hidden = hidden
        self.temperature = temperature
        self.soft_weight = soft_weight
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.quantize = quantize
        self.checks = checks
        self.validation_fraction = validation_fraction
        self.test_fraction = test_fraction
        self.random_state = random_state

    # -- fitting -------------------------------------------------------------------------

    def _frame(self, X: Any):
        import pandas as pd

        if _is_frame(X):
            frame = X.reset_index(drop=True)
            self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
            frame.columns = list(self.feature_names_in_)
            return frame
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"X must be 2-dimensional (rows × features), got shape {array.shape}")
        return pd.DataFrame(array, columns=[f"x{j}" for j in range(array.shape[1])])

    def _soft_labels(self, X: Any, y: np.ndarray) -> np.ndarray:
        """The teacher's probabilities in ``classes_`` order (one-hot labels without one)."""
        k = len(self.classes_)
        if self.teacher is None:
            return (y[:, None] == self.classes_[None, :]).astype(float)
        p = np.asarray(self.teacher.predict_proba(X), dtype=float)
        if p.shape != (len(y), k):
            raise ValueError(
                f"the teacher's predict_proba gave shape {p.shape}; expected {(len(y), k)} "
                "(one row per sample, one column per class in y)"
            )
        teacher_classes = getattr(self.teacher, "classes_", None)
        if teacher_classes is None:
            return p
        where = {c: i for i, c in enumerate(list(teacher_classes))}
        missing = [c for c in self.classes_ if c not in where]
        if missing:
            raise ValueError(f"the teacher does not know the class(es) {missing} found in y")
        return p[:, [where[c] for c in self.classes_]]

    def _recipe(self) -> str:
        distill = {
            "temperature": self.temperature,
            "soft_weight": 0.0 if self.teacher is None else self.soft_weight,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "learning_rate": self.learning_rate,
            "patience": self.patience,
            # The teacher answers only for the rows given to fit (as soft-label columns),
            # so it cannot label synthetic neighbours.
            "augment": "none",
            "seed": int(self.random_state),
        }
        lines = [
            'name = "distilled-classifier"',
            "[data]",
            'train = "train.csv"',
            f'target = "{_TARGET}"',
            f"validation_fraction = {float(self.validation_fraction)!r}",
            f"test_fraction = {float(self.test_fraction)!r}",
            "[teacher]",
            f'columns = "{_SOFT}"',
            "[student]",
            f"hidden = [{', '.join(str(int(h)) for h in self.hidden)}]",
            "[distill]",
        ]
        for key, value in distill.items():
            if value is not None:
                lines.append(f"{key} = {json.dumps(value)}")
        lines += ["[quantize]", f"int8 = {str(bool(self.quantize)).lower()}"]
        lines += ["[quality]", f"checks = {str(bool(self.checks)).lower()}"]
        return "\n".join(lines) + "\n"

    def fit(self, X: Any, y: Any) -> "DistilledClassifier":
        """Labels X with the teacher and distils the student (in Rust, GIL released)."""
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-dimensional, got shape {y.shape}")
        frame = self._frame(X)
        if len(frame) != len(y):
            raise ValueError(f"X has {len(frame)} rows but y has {len(y)}")
        self.classes_ = np.unique(y)
        if len(self.classes_) < 2:
            raise ValueError("y needs at least two classes")
        self.n_features_in_ = frame.shape[1]
        soft = self._soft_labels(X, y)
        # Class names the pipeline reads back unchanged (never parsed as numbers).
        self._class_names = [f"class_{i}" for i in range(len(self.classes_))]
        index = {c: i for i, c in enumerate(self.classes_)}
        table = frame.copy()
        table[_TARGET] = [self._class_names[index[v]] for v in y]
        for i, name in enumerate(self._class_names):
            table[_SOFT + name] = soft[:, i]
        work = tempfile.mkdtemp(prefix="distillery-fit-")
        try:
            table.to_csv(os.path.join(work, "train.csv"), index=False)
            recipe = os.path.join(work, "recipe.toml")
            Path(recipe).write_text(self._recipe())
            self.report_ = run(recipe, out_dir=os.path.join(work, "runs"))
            run_dir = Path(work) / "runs" / self.report_["run_id"]
            file = "student.int8.safetensors" if self.quantize else "student.safetensors"
            self.student_ = Student.load(run_dir / file)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        order = [self.student_.classes.index(name) for name in self._class_names]
        self._order = np.asarray(order)
        return self

    # -- predicting ----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "student_"):
            raise AttributeError(f"this {type(self).__name__} is not fitted yet; call fit(X, y) first")

    def predict_proba(self, X: Any) -> np.ndarray:
        """Probabilities, one column per class of ``classes_``."""
        self._check_fitted()
        if _is_frame(X) and hasattr(self, "feature_names_in_"):
            frame = X.rename(columns=str)
            p = self.student_.predict_proba(frame)
        else:
            values = X.to_numpy() if _is_frame(X) else X
            p = self.student_.predict_proba(values)
        return p[:, self._order]

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class of ``classes_`` per row."""
        p = self.predict_proba(X)
        return self.classes_[p.argmax(axis=1)]

    def export_onnx(self, path: os.PathLike | str) -> None:
        """Writes the student as ONNX. Its class labels are ``class_0``, ``class_1``, …,
        standing for ``classes_[0]``, ``classes_[1]``, …"""
        self._check_fitted()
        self.student_.export_onnx(path)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        if "student_" in state:
            state["student_"] = state["student_"].to_bytes()
        return state

    def __setstate__(self, state: dict) -> None:
        if isinstance(state.get("student_"), bytes):
            state["student_"] = Student.from_bytes(state["student_"])
        self.__dict__.update(state)
