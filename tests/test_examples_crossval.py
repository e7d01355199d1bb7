"""The pieces of the cross-validated accuracy benchmark: k-fold splits, retraining an example on a fold without
touching the shipped files, checkpoint selection and distillation in the shared training loop, and the QAT recipe
that never looks at the test images."""

import hashlib
import re

import numpy as np
import pytest
import torch
from torch import nn

from examples.digits.data import DigitsSplit, load_digits_fold, load_digits_split
from examples.digits.training import distillation, fit
from examples.digits_multilevel.train import build_model as build_multilevel
from examples.retrain import RECIPES, recipe_for, retrain
from examples.seed_deploy import EXAMPLES, holdout, load_seed_model, measure, qat_finetune


def test_folds_partition_every_image_once_and_are_stratified():
    folds = [load_digits_fold(k, 5) for k in range(5)]
    everything = load_digits_split(seed=0)
    n = len(everything.x_train) + len(everything.x_test)
    assert sum(len(f.x_test) for f in folds) == n == 1797
    tests = np.concatenate([f.x_test for f in folds])
    assert len(np.unique(tests, axis=0)) == len(np.unique(np.concatenate([everything.x_train, everything.x_test]),
                                                          axis=0))
    for f in folds:
        assert len(f.x_train) + len(f.x_test) == n
        # no test image among the training images of its fold
        train_rows = {row.tobytes() for row in f.x_train}
        assert sum(row.tobytes() in train_rows for row in f.x_test) <= 2  # the digits set holds a few duplicates
        assert np.bincount(f.y_test, minlength=10).min() >= 34  # about 1/5 of each class (>= 174 per class)
    assert not np.array_equal(folds[0].x_test[:5], folds[1].x_test[:5])


@pytest.mark.parametrize("fold, folds", [(5, 5), (-1, 5), (0, 1), (0, 11)])
def test_bad_fold_is_refused(fold, folds):
    with pytest.raises(ValueError, match="fold"):
        load_digits_fold(fold, folds)


def test_unknown_model_has_no_recipe():
    with pytest.raises(ValueError, match="no training recipe.*digits_klif/model.pt"):
        recipe_for("digits/other.pt")


def test_every_benchmarked_model_has_a_recipe_with_its_own_outputs():
    outputs = [m for r in RECIPES for m in r.outputs]
    assert len(outputs) == len(set(outputs))
    for model in outputs:
        assert (EXAMPLES / model).exists(), model


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_retrain_writes_to_scratch_only_and_trains_on_the_fold(tmp_path):
    shipped = EXAMPLES / "digits_gn/model.pt"
    before = {p: _digest(p) for p in (shipped, EXAMPLES / "digits_gn/ann.pt")}
    trained = retrain(["digits_gn/model.pt"], 1, 5, tmp_path, progress=False)
    assert {p: _digest(p) for p in before} == before
    path = trained["digits_gn/model.pt"]
    assert path.parent.parent == tmp_path and path.exists()
    assert "SNN T=" in (path.parent / "digits_gn.log").read_text()
    model = load_seed_model(path)
    assert int(model.timesteps) == 4
    assert _digest(path) != before[shipped]
    r = measure(path, "loihi2", split=load_digits_fold(1, 5))
    assert r["test_images"] in (359, 360) and r["float_accuracy"] > 0.9


def _tiny_split(n: int = 200) -> DigitsSplit:
    s = load_digits_split(seed=0)
    return DigitsSplit(s.x_train[:n], s.y_train[:n], s.x_test[:50], s.y_test[:50])


def test_select_keeps_the_best_scored_epoch():
    model = build_multilevel(seed=0)
    scores = iter([0.2, 0.5, 0.9, 0.9, 0.1])  # before epoch 1, then after epochs 1..4
    snapshots = []

    def select(m: nn.Module) -> float:
        snapshots.append({k: v.clone() for k, v in m.state_dict().items()})
        return next(scores)

    res = fit(model, _tiny_split(), "rate", 2, 4, score=None, select=select, verbose=False)
    assert res.selected_epoch == 2  # 0.9 first after epoch 2; the tie at epoch 3 keeps the earlier one
    for k, v in model.state_dict().items():
        assert torch.equal(v, snapshots[2][k]), k
    assert not torch.equal(snapshots[2]["0.weight"], snapshots[4]["0.weight"])  # training did move on


def test_select_keeps_the_model_as_given_when_nothing_improves():
    model = build_multilevel(seed=0)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    res = fit(model, _tiny_split(), "rate", 2, 2, score=None, lr=0.5, select=lambda m: 0.0, verbose=False)
    assert res.selected_epoch == 0
    for k, v in model.state_dict().items():
        assert torch.equal(v, start[k]), k


def test_distillation_is_zero_only_on_the_teacher_and_pulls_towards_it():
    teacher = torch.tensor([[4.0, 1.0, 0.0], [0.0, 2.0, 2.0]])
    assert float(distillation(teacher.clone(), teacher)) == pytest.approx(0.0, abs=1e-7)
    student = torch.tensor([[1.0, 4.0, 0.0], [0.0, 2.0, 2.0]], requires_grad=True)
    loss = distillation(student, teacher)
    assert float(loss.detach()) > 0.1
    loss.backward()
    assert student.grad[0, 0] < 0 < student.grad[0, 1]  # raise the teacher's class, lower the student's
    assert torch.allclose(student.grad[1], torch.zeros(3), atol=1e-7)


def test_holdout_splits_training_images_only():
    s = load_digits_split(seed=0)
    h = holdout(s, 0.2, seed=0)
    assert len(h.x_train) + len(h.x_test) == len(s.x_train)
    assert len(h.x_test) == pytest.approx(0.2 * len(s.x_train), abs=1)
    test_rows = {row.tobytes() for row in s.x_test}
    assert sum(row.tobytes() in test_rows for row in h.x_test) <= 2  # duplicates in the data set only


def test_qat_finetune_never_reads_the_test_images_and_deploys_what_it_selected(tmp_path):
    s = load_digits_split(seed=0)
    blind = DigitsSplit(s.x_train, s.y_train, None, None)  # any use of the test images would fail
    lines: list[str] = []
    out = qat_finetune(EXAMPLES / "digits_multilevel/model.pt", "loihi2", tmp_path / "qat.pt", epochs=1,
                       split=blind, log=lines.append)
    r = measure(out, "loihi2")
    assert r["count_agreement"] == 1.0  # the finalized torch model is the compiled network, image for image
    (line,) = lines  # which start and which checkpoint were kept, with their held-out divergences
    assert re.match(r"QAT start: (calibrated|max rule) \(held-out KL from float: calibrated [\d.]+, max rule "
                    r"[\d.]+\); kept epoch [01] of 1 \(KL [\d.]+; after epoch 1: [\d.]+\)$", line), line
