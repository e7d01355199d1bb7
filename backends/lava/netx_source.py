"""Run the user's own netx file (a bundle compiled from a ``.net``) with netx's ``hdf5.Network``, layer by layer.

The graph from :mod:`snncc.frontend.netx_import` has one neuron layer per netx block, in the file's order, so
netx's ``net.layers[k]`` is the graph's k-th neuron layer. The input reaches the network as it reaches the graph:
through netx's input port, or, for an input block with a neuron (whose port netx leaves unconnected), through the
graph's unit synapse into that neuron. Traces are the blocks' ``s_out`` and, where netx exposes them, ``u``/``v``
(CUBA: ``u``, ``v``; SDNN: ``sigma``, ``act``).

netx resets CUBA blocks staggered by depth (``reset_interval``, ``reset_offset``), so CUBA networks run all samples
back to back in one run; netx's sigma-delta processes never reset, and a ``dense_rec`` block's last spike of one
sample would reach the next sample's first step (netx resets the neurons, not the spike in flight), so a network
with either runs one sample per run (each CUBA block reset once, when its input arrives).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from snncc.backends.base import check_inputs
from snncc.backends.lava.conv_encoding import LAVA_AXES
from snncc.backends.lava.execution import (
    GRADED_MESSAGE_BITS,
    build_result,
    cut_windows,
    num_lava_steps,
    recording_path,
    run_and_stop,
    source_data,
)
from snncc.backends.lava.processes import unit_process
from snncc.backends.reference.trace import LayerTrace, SimResult
from snncc.compat.lava import import_lava, netx_network
from snncc.errors import GraphError
from snncc.families import REGISTRY
from snncc.ir import Graph, InputEncoding, IntegerNeuron, QConv, keys


def is_netx_source(graph: Graph) -> bool:
    """Whether ``graph`` was imported from a netx file (the bundle's netx file is then the user's own)."""
    return graph.metadata.get(keys.SOURCE_KIND) == "netx"


def chw_flat(arr: np.ndarray) -> np.ndarray:
    """(steps, W, H, C) Lava layout -> (steps, C*H*W) in snncc's CHW order; flat traces pass unchanged."""
    if arr.ndim == 4:
        return arr.transpose(0, 3, 2, 1).reshape(arr.shape[0], -1)
    return arr.reshape(arr.shape[0], -1)


class NetxSourceRunner:
    """Runs a netx file in Lava with the time windows of ``graph`` (its netx import)."""

    def __init__(self, path: str | Path, graph: Graph) -> None:
        self.path, self.graph = Path(path), graph
        order = graph.topological_order()
        self.neurons = [n for n in order if isinstance(graph.nodes[n], IntegerNeuron)]
        self.depth = graph.synapse_depth()
        self.first_syn = graph.successors(graph.input_names[0])[0]
        self.encoder = self.neurons[0].startswith("input_")  # an input block with a neuron
        self.output = [graph.predecessors(o)[0] for o in graph.output_names]
        self.resets = all(REGISTRY.of(graph.nodes[n], n).netx_resets() for n in self.neurons)
        self.per_sample = not self.resets or any(graph.is_recurrent(n) for n in graph.nodes)

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        x = check_inputs(inputs, self.graph, InputEncoding.from_metadata(self.graph.metadata))
        batch, timesteps, _ = x.shape
        runs = [x[i:i + 1] for i in range(batch)] if self.per_sample else [x]
        parts = [self._run_once(xs, record_states) for xs in runs]
        layers = {n: LayerTrace(spikes=np.concatenate([p[n]["spikes"] for p in parts]), latency=self.depth[n],
                                u=_join(parts, n, "u"), v=_join(parts, n, "v")) for n in self.neurons}
        return build_result(self.graph, x, layers, self.output)

    def _kwargs(self, timesteps: int, num_steps: int) -> dict:
        first = self.graph.nodes[self.first_syn]
        kwargs = {"input_message_bits": GRADED_MESSAGE_BITS if first.graded else 0}
        if isinstance(first, QConv) and not self.encoder:
            kwargs["input_shape"] = tuple(first.input_shape[::-1])  # netx: (x, y, f)
        if self.resets:  # block k resets at 1-based step k + 2 (once in a run of one sample)
            kwargs.update(reset_interval=num_steps + 1 if self.per_sample else timesteps, reset_offset=1)
        return kwargs

    def _run_once(self, x: np.ndarray, record_states: bool) -> dict[str, dict[str, np.ndarray]]:
        import_lava()
        from lava.proc.io.source import RingBuffer

        from snncc.backends.lava.recorders import FileProbe, FileSink

        batch, timesteps, _ = x.shape
        latency = max(self.depth[n] for n in self.neurons)
        num_steps = num_lava_steps(batch, timesteps, timesteps, latency)
        with netx_network(self.path, **self._kwargs(timesteps, num_steps)) as net, \
                tempfile.TemporaryDirectory(prefix="snncc-netx-") as tmp:
            if len(net.layers) != len(self.neurons):
                raise GraphError(f"{self.path} builds {len(net.layers)} netx blocks; the graph has "
                                 f"{len(self.neurons)} neuron layers")
            source = RingBuffer(data=source_data(x, timesteps, num_steps))
            first = self.graph.nodes[self.first_syn]
            if self.encoder:  # netx leaves the input block's port unconnected: the graph's unit synapse feeds it
                unit = unit_process(first, self.first_syn)
                source.s_out.connect(unit.s_in)
                a_in = net.layers[0].neuron.a_in
                out = unit.a_out.reshape(a_in.shape[::-1]).transpose(list(LAVA_AXES)) if len(a_in.shape) == 3 \
                    else unit.a_out
                out.connect(a_in)
            elif isinstance(first, QConv):
                source.s_out.reshape(first.input_shape).transpose(list(LAVA_AXES)).connect(net.inp)
            else:
                source.s_out.connect(net.inp)
            paths: dict[str, dict[str, str]] = {}
            for k, (name, block) in enumerate(zip(self.neurons, net.layers, strict=True)):
                paths[name] = {"spikes": recording_path(tmp, k, name, "spikes")}
                out = block.neuron.s_out
                out = out.transpose(list(LAVA_AXES)).flatten() if len(out.shape) == 3 else out
                graded = self.graph.nodes[name].payload_levels is not None
                out.connect(FileSink(shape=out.shape, num_steps=num_steps, path=paths[name]["spikes"],
                                     dtype="int32" if graded else "int8").a_in)
                node = self.graph.nodes[name]
                names = REGISTRY.of(node, name).lava_state_vars(node) if record_states else {}
                if not all(hasattr(block.neuron, var) for var in names.values()):
                    names = {}  # netx's process lacks the Var (Sigma has no act): spikes only
                for what, var in names.items():
                    paths[name][what] = recording_path(tmp, k, name, what)
                    FileProbe(var=getattr(block.neuron, var), num_steps=num_steps, path=paths[name][what])
            run_and_stop(source, num_steps)
            return {n: {what: cut_windows(chw_flat(np.load(p)), batch, timesteps, timesteps, self.depth[n])
                        for what, p in paths[n].items()} for n in self.neurons}


def _join(parts: list[dict], layer: str, what: str) -> np.ndarray | None:
    if any(what not in p[layer] for p in parts):
        return None
    return np.concatenate([p[layer][what] for p in parts])


def run_netx_source(path: str | Path, graph: Graph, inputs: np.ndarray, record_states: bool = False) -> SimResult:
    """The user's netx file run by netx's own ``hdf5.Network`` (see the module docstring)."""
    return NetxSourceRunner(path, graph).run(inputs, record_states)
