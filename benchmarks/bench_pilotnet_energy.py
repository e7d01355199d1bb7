"""snncc's energy estimate for lava-dl's PilotNet LIF network beside what lava-dl measured on a Loihi 2 chip.

lava-dl's ``tutorials/lava/lib/dl/netx/pilotnet_snn/benchmark.ipynb`` runs ``network.net`` on one Loihi 2 chip
(partition ``oheogulch``) for 10,000 steps on one frame (frame 100 of the driving data set from sample 10,550),
reset every 16 steps, and prints 408.91 frames/s, 0.447 W dynamic and 0.232 W static power: **1.09 mJ dynamic**
(1.66 mJ total) per 16-step inference, 153 us per step. It writes the frame with ``net.in_layer.neuron.bias =
image``: netx's input neuron is a Lava LIF, whose bias Var is ``bias_mant`` (lava-nc 0.10.0 has no ``bias``), so
read literally the frame never reaches the chip and the measured network ran on its layers' biases alone; the
notebook's intent is the frame as the input neurons' bias (``bias_exp`` 6). Both are estimated here.

The frame: the data set is not in the checkout. ``--frame IMAGE`` takes any picture (resized to 200 x 66);
without it, a frame of the same drive is recovered from the "Input Frame" panel that ``run.ipynb`` saved in its
output (the sequence 10,550-10,750, at the figure's resolution) and labelled a stand-in; failing that a flat grey
frame, also labelled. The input transform is the ``.net`` file's (``2 w x - w + b``, its input layer's ``weight``
and ``bias``). snncc compiles the file for ``loihi2``, sets the input neurons' bias, runs the reference simulator
for one 16-step inference with the states recorded, and prints the target model at its point figures and at both
ends of the Loihi 2 band, dynamic energy beside the 1.09 mJ measured.

Run: ``python benchmarks/bench_pilotnet_energy.py --lava-dl PATH [--frame IMAGE]``.
"""

from __future__ import annotations

import argparse
import base64
import dataclasses
import io
import json
from pathlib import Path

import h5py
import numpy as np

from snncc.backends.reference import ReferenceSimulator
from snncc.compiler import Options, compile_model
from snncc.ir import IntegerNeuron
from snncc.reports import energy_report

FOLDER = "tutorials/lava/lib/dl/netx/pilotnet_snn"
STEPS = 16  # the notebook's reset_interval: one inference
MEASURED_DYNAMIC_J, MEASURED_TOTAL_J, MEASURED_STEP_S = 1.093544e-3, 1.661103e-3, 1e6 / 408.91 / STEPS * 1e-6
SIZE = (200, 66)  # PilotNetDataset's (width, height)


def notebook_frame(notebook: Path) -> np.ndarray | None:
    """(66, 200, 3) in [0, 1]: the "Input Frame" panel of ``run.ipynb``'s first saved figure, inside its axes."""
    from PIL import Image
    from scipy import ndimage

    cells = json.loads(notebook.read_text())["cells"]
    pngs = [o["data"]["image/png"] for c in cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    if not pngs:
        return None
    fig = np.asarray(Image.open(io.BytesIO(base64.b64decode(pngs[0]))).convert("RGB")).astype(np.int64)
    ink = np.abs(fig - 255).sum(axis=2) > 30
    labels, n = ndimage.label(ink)
    sizes = ndimage.sum(ink, labels, range(1, n + 1))
    panels = [box for box, size in zip(ndimage.find_objects(labels), sizes, strict=True) if size > 0.2 * sizes.max()]
    if not panels:
        return None
    box = fig[min(panels, key=lambda b: b[1].start)]  # the leftmost panel: the input frame
    dark = box.sum(axis=2) < 150  # the axes' spines: rows and columns almost all dark
    rows, cols = np.where(dark.mean(axis=1) > 0.8)[0], np.where(dark.mean(axis=0) > 0.8)[0]
    if len(rows) < 2 or len(cols) < 2:
        return None
    inside = box[rows[0] + 1:rows[-1], cols[0] + 1:cols[-1]].astype(np.uint8)
    if inside.shape[1] < inside.shape[0] * 2:  # not the 200 x 66 frame's shape
        return None
    return np.asarray(Image.fromarray(inside).resize(SIZE, resample=Image.BILINEAR)) / 255


def image_frame(path: Path) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB").resize(SIZE, resample=Image.BILINEAR)) / 255


def input_bias(net: Path, frame: np.ndarray) -> np.ndarray:
    """The input neurons' bias mantissas, in snncc's (C, H, W) order: PilotNetDataset's transform of the frame."""
    with h5py.File(net, "r") as f:
        w, b = float(f["layer/0/weight"][()]), float(f["layer/0/bias"][()])
    image = (2 * w * frame - w + b).astype(np.int32)  # (H, W, C), as the data set computes it
    return image.transpose(2, 0, 1).ravel().astype(np.int64)


def estimate(bundle, bias: np.ndarray | None) -> dict:
    """The energy report of one 16-step inference with the input neurons' bias set (None: left at zero)."""
    graph = bundle.graph.copy()
    first = next(n for n in graph.topological_order() if isinstance(graph.nodes[n], IntegerNeuron))
    assert graph.nodes[first].size == bundle.n_inputs, "the first neuron layer is the input block's"
    if bias is not None:
        node = graph.nodes[first]
        graph.nodes[first] = dataclasses.replace(node, bias_mant=bias, bias_exp=np.full(bias.size, 6, np.int64))
    x = np.zeros((1, STEPS, bundle.n_inputs), np.int64)
    run = ReferenceSimulator(graph, bundle.target.neuron_format).run(x, record_states=True)
    return energy_report(graph, run.counts, bundle.target, 1, STEPS, run.latency)


def _mj(x: float) -> str:
    return f"{x * 1e3:8.3f} mJ"


def show(label: str, e: dict) -> None:
    tm, pi = e["target_model"], e["per_inference"]
    low, high = tm["band"]["low"], tm["band"]["high"]
    print(f"\n{label}")
    print(f"  per inference: {pi['synops']:.4g} synops, {pi['neuron_updates']:.4g} neuron updates "
          f"({pi['neuron_updates_active']:.4g} active), {pi['spikes']:.4g} spikes, {pi['hops']:.4g} mesh hops")
    print(f"  dynamic  point {_mj(tm['dynamic_total_j'])}   band {_mj(low['dynamic_total_j'])} - "
          f"{_mj(high['dynamic_total_j'])}   measured {_mj(MEASURED_DYNAMIC_J)}")
    for k, v in tm["dynamic_j"].items():
        print(f"    {k:<16} point {_mj(v)}   band {_mj(low['dynamic_j'][k])} - {_mj(high['dynamic_j'][k])}")
    pipelined = {end: tm["band"][end]["step_time_s"] * STEPS * 0.232 for end in ("low", "high")}
    print(f"  step time point {tm['step_time_s'] * 1e6:.1f} us, band {low['step_time_s'] * 1e6:.1f} - "
          f"{high['step_time_s'] * 1e6:.1f} us; measured {MEASURED_STEP_S * 1e6:.1f} us")
    print(f"  static over 16 pipelined steps at 0.232 W: {_mj(pipelined['low'])} - {_mj(pipelined['high'])} "
          f"(measured total {_mj(MEASURED_TOTAL_J)} = dynamic + {_mj(MEASURED_TOTAL_J - MEASURED_DYNAMIC_J)})")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lava-dl", type=Path, required=True, help="a lava-dl source checkout")
    ap.add_argument("--frame", type=Path, help="an image to use as the frame (the data set's frame 10,650, say)")
    args = ap.parse_args()
    folder = args.lava_dl / FOLDER
    net = folder / "network.net"
    if args.frame is not None:
        frame, where = image_frame(args.frame), f"the frame {args.frame}"
    else:
        frame = notebook_frame(folder / "run.ipynb")
        where = ("STAND-IN: a frame of the same drive recovered from run.ipynb's saved 'Input Frame' panel (the data "
                 "set is not in the checkout)")
        if frame is None:
            frame, where = np.full((SIZE[1], SIZE[0], 3), 0.5), "STAND-IN: a flat mid-grey frame"
    bundle = compile_model(net, "loihi2", options=Options(timesteps=STEPS, samples=1))
    print(f"PilotNet LIF ({net}): {bundle.manifest['report']['resources']['cores_used']} cores (Intel's compiler: "
          "74), loihi2 target; measured on Loihi 2 (lava-dl benchmark.ipynb): 1.094 mJ dynamic per inference")
    show(f"frame as the input neurons' bias (the notebook's intent); {where}", estimate(bundle, input_bias(net, frame)))
    show("no frame: the input neurons' bias left at 0 (what the notebook's `neuron.bias = image` does, read "
         "literally)", estimate(bundle, None))


if __name__ == "__main__":
    main()
