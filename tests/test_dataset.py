"""Data-set runs (snncc run --inputs --labels), sharded and on a Dask cluster, and verification over workers.

Every figure a data-set run prints is checked against one plain ``Bundle.run`` of the whole set: the shards,
their order and the engine must not change a single count or prediction.
"""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from snncc.backends.reference.trace import add_counts, concatenate
from snncc.bundle import Bundle
from snncc.compiler import Options, compile_model
from snncc.dataset import local_engine, run_dataset
from snncc.fidelity import predictions
from snncc.verify import run_in_workers
from tests.test_cli import assert_user_error, snncc

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from examples.digits.data import main as write_digits  # noqa: E402


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    """The shipped digits model compiled for loihi2, and all 1797 images' payloads and labels."""
    tmp = tmp_path_factory.mktemp("digits")
    bundle = compile_model(str(ROOT / "examples/digits/model.pt"), "loihi2", str(tmp / "bundle"),
                           Options(samples=8))
    write_digits(["--out", str(tmp / "data")])
    return bundle, tmp / "data" / "inputs.npy", tmp / "data" / "labels.npy"


def test_run_prints_accuracy_counts_and_energy_of_the_whole_set(digits, tmp_path):
    bundle, x_path, y_path = digits
    summary = tmp_path / "run.json"
    proc = snncc("run", bundle.path, "--inputs", x_path, "--labels", y_path, "--json", summary)
    assert proc.returncode == 0, proc.stderr
    x, y = np.load(x_path), np.load(y_path)
    whole = bundle.run(x, "reference", record_states=True)  # a data-set run records states: active updates
    expected = predictions(bundle.graph, whole)
    correct = int(np.sum(expected == y))
    assert f"accuracy: {100 * correct / len(y):.2f}% ({correct} / 1797)" in proc.stdout
    assert "1797/1797 samples" in proc.stderr  # the progress bar reached the end
    data = json.loads(summary.read_text())
    assert data["predictions"] == expected.tolist() and data["correct"] == correct
    for name, c in whole.counts.items():
        assert data["counts"][name] == c.to_dict()
    synops = sum(c.synops for c in whole.counts.values())
    assert data["energy"]["per_inference"]["synops"] == pytest.approx(synops / len(x))
    spikes = whole.counts["lif_2"].spikes
    assert data["layers"]["lif_2"]["rate"] == pytest.approx(spikes / (len(x) * x.shape[1] * 128))
    # snncc report draws this very summary
    proc = snncc("report", bundle.path, "--run", summary, "--out", tmp_path / "rep")
    assert proc.returncode == 0, proc.stderr
    assert "data-set run run.json (1797 samples" in proc.stdout
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["energy"] == data["energy"]


def test_shards_and_their_order_do_not_change_the_result(digits):
    bundle, x_path, y_path = digits
    x = np.load(x_path)[:300]
    one = run_dataset(bundle, x, shard_size=1000)

    def backwards(b, xs, ranges, backend):  # shards finishing in reverse order
        yield from reversed(list(local_engine(b, xs, ranges, backend)))

    for size, engine in ((7, None), (64, backwards)):
        other = run_dataset(bundle, x, shard_size=size, engine=engine)
        np.testing.assert_array_equal(other.outputs, one.outputs)
        assert {k: c.to_dict() for k, c in other.counts.items()} == {k: c.to_dict() for k, c in one.counts.items()}
        assert other.energy == one.energy


def test_local_dask_cluster_equals_the_local_run_sample_for_sample(digits, tmp_path):
    """Through the command line, so that the cluster's threads and processes end with that process (a Dask client
    leaves threads behind, and the Lava tests in this process fork)."""
    bundle, x_path, y_path = digits
    x, y = np.load(x_path)[:400], np.load(y_path)[:400]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)
    proc = snncc("run", bundle.path, "--inputs", tmp_path / "x.npy", "--labels", tmp_path / "y.npy", "--shard", "100",
                 "--workers", "2", "--json", tmp_path / "cluster.json", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "(local Dask cluster of 2 workers)" in proc.stdout
    cluster = json.loads((tmp_path / "cluster.json").read_text())
    local = run_dataset(bundle, x, y, shard_size=100)
    assert cluster["predictions"] == local.predictions.tolist() and cluster["accuracy"] == local.accuracy
    assert cluster["counts"] == {k: c.to_dict() for k, c in local.counts.items()}
    assert cluster["energy"] == json.loads(json.dumps(local.energy))


def test_unreachable_scheduler_is_one_line(digits):
    bundle, x_path, _ = digits
    proc = snncc("run", bundle.path, "--inputs", x_path, "--scheduler", "tcp://127.0.0.1:9", "-q")
    assert_user_error(proc, "cannot reach the Dask scheduler at tcp://127.0.0.1:9")


@pytest.mark.parametrize("labels,fragment", [
    (np.zeros(5, np.int64), "one integer per sample, shape (1797,)"),
    (np.full(1797, 0.5), "labels must be integers"),
    (np.full(1797, -1), "labels must be >= 0"),
    (np.full(1797, 10), "labels go up to 10, but the network has 10 output classes"),
])
def test_bad_labels_are_one_line(digits, tmp_path, labels, fragment):
    bundle, x_path, _ = digits
    np.save(tmp_path / "y.npy", labels)
    assert_user_error(snncc("run", bundle.path, "--inputs", x_path, "--labels", tmp_path / "y.npy", "-q"), fragment)
    assert_user_error(snncc("run", bundle.path, "--inputs", x_path, "--labels", tmp_path / "none.npy", "-q"),
                      "no such labels file")


def test_counts_and_results_add_up_over_slices(digits):
    bundle, x_path, _ = digits
    x = np.load(x_path)[:50]
    whole = bundle.run(x, "reference", record_states=True)
    parts = [bundle.run(x[a:b], "reference", record_states=True) for a, b in ((0, 13), (13, 14), (14, 50))]
    joined = concatenate(parts)
    for name, trace in whole.layers.items():
        for f in ("spikes", "u", "v"):
            np.testing.assert_array_equal(getattr(joined.layers[name], f), getattr(trace, f))
    assert {k: c.to_dict() for k, c in joined.counts.items()} == {k: c.to_dict() for k, c in whole.counts.items()}
    summed = add_counts(parts[0].counts, parts[2].counts)
    assert summed["linear_1"].synops == parts[0].counts["linear_1"].synops + parts[2].counts["linear_1"].synops


@pytest.mark.lava
def test_lava_over_worker_processes_equals_one_lava_run(digits):
    bundle, x_path, _ = digits
    x = np.load(x_path)[:6]
    loaded = Bundle.load(bundle.path)
    one = loaded.run(x, "lava", record_states=True)
    over = run_in_workers(loaded, x, "lava", True, 2, lambda _m: None)
    for name, trace in one.layers.items():
        for f in ("spikes", "u", "v"):
            np.testing.assert_array_equal(getattr(over.layers[name], f), getattr(trace, f))
    ref = loaded.run(x, "reference", record_states=True)
    np.testing.assert_array_equal(over.layers["lif_4"].v, ref.layers["lif_4"].v)


@pytest.mark.lava
def test_verify_with_workers_prints_its_time(digits, tmp_path):
    bundle, x_path, _ = digits
    np.save(tmp_path / "x.npy", np.load(x_path)[:8])
    proc = snncc("verify", bundle.path, "--inputs", tmp_path / "x.npy", "--workers", "2", "--no-netx")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "reference vs lava: BIT-EXACT" in proc.stdout
    assert "slow backends over 2 workers" in proc.stdout.splitlines()[0]
    assert "lava: 8/8 samples over 2 workers" in proc.stderr


def test_simulator_threads_give_the_run_of_one_thread(digits):
    """The batch cut into shards on threads (the default on a multi-core machine) joins into the one-thread run."""
    from snncc.backends.reference import ReferenceSimulator

    bundle, x_path, _ = digits
    x = np.load(x_path)[:37]
    sim = ReferenceSimulator(bundle.graph, bundle.target.neuron_format)
    one, three = sim.run(x, record_states=True, threads=1), sim.run(x, record_states=True, threads=3)
    for name, trace in one.layers.items():
        for f in ("spikes", "u", "v"):
            np.testing.assert_array_equal(getattr(three.layers[name], f), getattr(trace, f))
    assert three.saturated == one.saturated
    assert {k: c.to_dict() for k, c in three.counts.items()} == {k: c.to_dict() for k, c in one.counts.items()}
