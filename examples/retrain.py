"""Retrain shipped digits examples on another split of the data, with each example's own training command.

The shipped models are trained on one fixed 80/20 split: 360 test images, on which one image is 0.28 points. A
quantization loss of a fraction of a point cannot be seen on so few images, so the cross-validated benchmark
(``benchmarks/bench_quantization_accuracy.py --folds 5``) retrains every example on each fold of a k-fold
partition and tests it on the fold it did not see: every one of the 1797 images is then a test image once.

Each recipe runs the example's ``train.py`` ``main`` in this process with its default options, ``--fold`` and
output paths in a scratch folder (never over the shipped files); its printout goes to a log file beside them.
"""

from __future__ import annotations

import contextlib
import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, eq=False)  # identity: a recipe is one command
class Recipe:
    """One training command: ``module.main(argv + --fold ... + --<flag> <path>)``; ``outputs`` maps each shipped
    model it produces (path under examples/) to the flag naming its output file."""

    module: str
    argv: tuple[str, ...] = ()
    outputs: dict[str, str] = field(default_factory=dict)
    scratch: tuple[str, ...] = ()  # other output flags, pointed into the scratch folder too

    @property
    def name(self) -> str:
        return " ".join([self.module.split(".")[1], *self.argv])


RECIPES: tuple[Recipe, ...] = (
    Recipe("examples.digits.train", (), {"digits/model.pt": "--out"}),
    Recipe("examples.digits_klif.train", (), {"digits_klif/model.pt": "--out"}),
    Recipe("examples.digits_klif.train", ("--encoding", "rate"), {"digits_klif/model_rate.pt": "--out"}),
    Recipe("examples.digits_arlif.train", (),
           {"digits_arlif/model_float.pt": "--out-float", "digits_arlif/model.pt": "--out"}),
    Recipe("examples.digits_multilevel.train", (), {"digits_multilevel/model.pt": "--out"}),
    Recipe("examples.digits_gn.train", (), {"digits_gn/model.pt": "--out"}, scratch=("--out-ann",)),
    Recipe("examples.digits_asn.train", (), {"digits_asn/model.pt": "--out"}),
    Recipe("examples.digits_asn.train", ("--nasn",), {"digits_asn/model_nasn.pt": "--out"}),
    Recipe("examples.digits_vgg.train", (), {"digits_vgg/model.pt": "--out"}),
    Recipe("examples.digits_resnet.train", (), {"digits_resnet/model.pt": "--out"}),
)


def recipe_for(model: str) -> Recipe:
    """The recipe that trains the shipped model ``model`` (a path under examples/)."""
    for r in RECIPES:
        if model in r.outputs:
            return r
    known = sorted(m for r in RECIPES for m in r.outputs)
    raise ValueError(f"no training recipe for {model!r}; known: {', '.join(known)}")


def retrain(models: list[str], fold: int, folds: int, folder: Path, progress: bool = True) -> dict[str, Path]:
    """Train every model in ``models`` (paths under examples/) on all folds but ``fold``; returns where each went.

    A recipe producing several of them (AR-LIF float and deploy-exact) runs once.
    """
    folder = Path(folder) / f"fold{fold}of{folds}"
    folder.mkdir(parents=True, exist_ok=True)
    trained: dict[str, Path] = {}
    for recipe in dict.fromkeys(recipe_for(m) for m in models):
        argv = [*recipe.argv, "--fold", str(fold), "--folds", str(folds)]
        for model, flag in recipe.outputs.items():
            trained[model] = folder / model.replace("/", "-")
            argv += [flag, str(trained[model])]
        for flag in recipe.scratch:
            argv += [flag, str(folder / f"{recipe.name.replace(' ', '_')}{flag.replace('--', '-')}.pt")]
        log = folder / f"{recipe.name.replace(' ', '_')}.log"
        start = time.perf_counter()
        with log.open("w") as out, contextlib.redirect_stdout(out):
            code = importlib.import_module(recipe.module).main(argv)
        if code:
            raise RuntimeError(f"training {recipe.name} on fold {fold} failed ({code}); see {log}")
        if progress:
            print(f"  fold {fold + 1}/{folds}: trained {recipe.name} in {time.perf_counter() - start:.0f} s",
                  flush=True)
    return {m: trained[m] for m in models}
