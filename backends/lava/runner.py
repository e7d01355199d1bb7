"""Lower a quantized graph to a Lava process graph and run it on Lava's fixed-point CPU simulator.

One Lava ``Dense`` per ``QDense`` (exact integer weights via :func:`snncc.fixedpoint.lava_dense_encoding`; graded,
``num_message_bits > 0``, when the ``QDense`` is; a ``Sparse``, which runs the same fixed-point code on CSR weights,
when few weights are non-zero), one Lava ``Conv`` per ``QConv`` (kernel and layout from
:mod:`snncc.backends.lava.conv_encoding`; its input port is the source's flat CHW vector reshaped and transposed to
Lava's (W, H, C), its output transposed back and flattened), and one neuron process per layer on the Lava class of
the target primitive lower-primitives recorded for it (built by the layer's family). Several synapses into one
neuron layer (recurrent ones included, which connect back to the layer's ``a_in``) all connect to its ``a_in``,
which sums them. The periodic state reset of each neuron layer is staggered by its synapse depth, so each layer
starts every sample from its initial state exactly when the sample's first input reaches it: the same windows the
reference simulator records.

Timing of back-to-back samples (:mod:`snncc.ir.timing`): samples are spaced by the graph's sample gap (a recurrent
synapse gives a gap of 1, so the step before each reset is a blank step outside every window), and a layer read
outside its window runs on a process that sends nothing outside it.
"""

from __future__ import annotations

import tempfile

import nir
import numpy as np

from snncc import fixedpoint as fx
from snncc.backends.base import check_inputs
from snncc.backends.lava.conv_encoding import (
    INT32_LIMIT,
    LAVA_AXES,
    conv_sparse,
    lava_conv_args,
    max_abs_sum,
    wrap_free,
)
from snncc.backends.lava.execution import (
    GRADED_MESSAGE_BITS,
    build_result,
    cut_windows,
    num_lava_steps,
    recording_path,
    run_and_stop,
    source_data,
)
from snncc.backends.lava.processes import (
    dense_process,
    lava_class,
    neuron_process,
    primitive_of,
    record,
    sparse_process,
)
from snncc.backends.reference.simulator import check_synapse_sources
from snncc.backends.reference.trace import LayerTrace, SimResult
from snncc.compat.lava import import_lava
from snncc.errors import GraphError, QuantizationError
from snncc.families import REGISTRY
from snncc.families.base import Clock
from snncc.ir import Graph, InputEncoding, IntegerNeuron, IntegerSynapse, QConv, QDense, timing, type_name


def conv_args(node: QConv) -> dict[str, object]:
    """Keyword arguments of Lava's ``Conv`` for ``node`` (ValueError if it cannot be computed exactly)."""
    return lava_conv_args(node.weight, node.weight_exp, node.input_shape, node.stride, node.padding, node.dilation,
                          node.groups)


class LavaRunner:
    """Runs a quantized graph (``nir.Input`` -> integer synapses -> integer neuron layers ... -> ``nir.Output``,
    recurrent synapses included) in Lava fixed_pt."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.encoding = InputEncoding.from_metadata(graph.metadata)
        order = graph.topological_order()
        for name in order:
            node = graph.nodes[name]
            if not isinstance(node, (nir.Input, nir.Output, IntegerSynapse, IntegerNeuron)):
                raise GraphError(f"the Lava backend runs quantized graphs; node '{name}' is {type_name(node)}",
                                 hint="compile the model first (quantize pass)")
        self.input_name = graph.input_names[0]
        self.synapses = [n for n in order if isinstance(graph.nodes[n], IntegerSynapse)]
        self.neurons = [n for n in order if isinstance(graph.nodes[n], IntegerNeuron)]
        self.depth = graph.synapse_depth()
        self.latency = max((self.depth[n] for n in self.neurons), default=0)
        self.output_layers = [graph.predecessors(o)[0] for o in graph.output_names]
        self._check_structure()
        self.gap, self.windowed = timing.sample_gap(graph), timing.windowed_layers(graph)

    def _check_structure(self) -> None:
        g = self.graph
        check_synapse_sources(g)
        for s in self.synapses:
            succ = g.successors(s)
            if not succ or not all(isinstance(g.nodes[t], IntegerNeuron) for t in succ):
                raise GraphError("a synapse must feed neuron layers only", layer=s)
            self._check_synapse(s)
        for n in self.neurons:
            if not all(isinstance(g.nodes[p], IntegerSynapse) for p in g.predecessors(n)):
                raise GraphError("a neuron layer's inputs must all be synapses (QDense, QConv)", layer=n)
            node = g.nodes[n]
            primitive_of(g, n)
            for field, (value, bits) in REGISTRY.of(node, n).lava_storage(node).items():
                arr = np.asarray(value)
                if arr.size and (arr.min() < -(1 << (bits - 1)) or arr.max() >= 1 << (bits - 1)):
                    raise QuantizationError(f"{field} outside Lava's int{bits} storage", layer=n)

    def _check_synapse(self, name: str) -> None:
        """QuantizationError (naming the layer) if Lava's Dense/Conv cannot compute this synapse exactly."""
        node = self.graph.nodes[name]
        try:
            if isinstance(node, QDense):
                fx.lava_dense_encoding(node.weight, node.weight_exp)
                return
            if node.weight_exp < 0:  # runs as Sparse, which does not wrap: exact only where no sum can wrap
                fx.lava_dense_encoding(node.weight, node.weight_exp)
                if 2 * max_abs_sum(node.weight, 0, self._max_payload(name)) >= INT32_LIMIT:
                    raise ValueError("a convolution sum (its mantissas doubled for Sparse) can leave int32")
                if not wrap_free(node.weight, node.weight_exp, self._max_payload(name)):
                    raise ValueError(f"a convolution with weight_exp={node.weight_exp} < 0 runs as Lava's Sparse, "
                                     "which does not wrap its sum to 24 bits, and its sum can reach the wrap")
                return
            conv_args(node)
        except ValueError as exc:
            raise QuantizationError(str(exc), layer=name) from None
        bound = max_abs_sum(node.weight, node.weight_exp, self._max_payload(name))
        if bound >= INT32_LIMIT:
            raise QuantizationError(f"a convolution sum can reach {bound} >= 2**31, beyond the int32 that Lava's "
                                    "Conv casts its sum to before the 24-bit wrap", layer=name)

    def _max_payload(self, synapse: str) -> int:
        """The largest payload the synapse counts: 1 for a binary synapse, else its source's largest payload."""
        if not self.graph.nodes[synapse].graded:
            return 1
        src = self.graph.nodes[self.graph.predecessors(synapse)[0]]
        if isinstance(src, nir.Input):
            return self.encoding.max_value if self.encoding.graded else 1
        return src.payload_levels or 1

    def process_kind(self, name: str) -> str:
        """The name of the Lava process class layer ``name`` runs as (its recorded primitive's)."""
        return lava_class(primitive_of(self.graph, name)["lava"]).__name__

    def run(self, inputs: np.ndarray, record_states: bool = False) -> SimResult:
        """Simulate ``inputs`` (batch, T, n_in): all samples in one Lava run, cut into per-sample windows.

        With ``record_states``, the Vars each layer's family names as ``u`` and ``v`` are recorded.
        """
        x = check_inputs(inputs, self.graph, self.encoding)
        batch, timesteps, _ = x.shape
        stride = timesteps + self.gap
        num_steps = num_lava_steps(batch, timesteps, stride, self.latency)
        with tempfile.TemporaryDirectory(prefix="snncc-lava-") as tmp:
            source, paths = self._build(x, stride, num_steps, tmp, record_states)
            run_and_stop(source, num_steps)
            layers = {}
            for n in self.neurons:
                d = self.depth[n]
                rec = {what: cut_windows(np.load(p), batch, timesteps, stride, d) for what, p in paths[n].items()}
                dtype = np.int32 if self.graph.nodes[n].payload_levels is not None else np.int8
                layers[n] = LayerTrace(spikes=rec["spikes"].astype(dtype), latency=d, u=rec.get("u"),
                                       v=rec.get("v"))
        return build_result(self.graph, x, layers, self.output_layers)

    def _synapse(self, name: str, source: object) -> object:
        """Create the Lava process of synapse ``name``, connect ``source`` (a flat OutPort) to it and return its
        output as a flat port.

        A ``Conv`` is wired through virtual ports: the source's flat CHW vector reshaped and transposed to Lava's
        (W, H, C), its (W, H, C) output transposed back and flattened (see :mod:`snncc.backends.lava.conv_encoding`).
        """
        node = self.graph.nodes[name]
        if isinstance(node, QConv) and node.weight_exp < 0:  # no kernel form: its matrix, on Sparse
            sparse = sparse_process(conv_sparse(node.weight, node.geometry), node.weight_exp, node.graded, name)
            source.connect(sparse.s_in)
            return sparse.a_out
        if isinstance(node, QConv):
            from lava.proc.conv.process import Conv

            conv = Conv(num_message_bits=GRADED_MESSAGE_BITS if node.graded else 0, name=f"conv:{name}",
                        **conv_args(node))
            source.reshape(node.input_shape).transpose(list(LAVA_AXES)).connect(conv.s_in)
            return conv.a_out.transpose(list(LAVA_AXES)).flatten()
        dense = dense_process(node, name)
        source.connect(dense.s_in)
        return dense.a_out

    def _build(self, x: np.ndarray, stride: int, num_steps: int, tmp: str,
               record_states: bool) -> tuple[object, dict[str, dict[str, str]]]:
        """Create the Lava processes and recorders; returns the source process and the recording paths."""
        import_lava()
        from lava.proc.io.source import RingBuffer

        g = self.graph
        timesteps = x.shape[1]
        source = RingBuffer(data=source_data(x, stride, num_steps))
        outs = {self.input_name: source.s_out}
        # each layer is reset when its sample's first input arrives (1-based step depth + 1)
        neurons = {n: neuron_process(g, n, Clock(interval=stride, offset=self.depth[n] + 1, window=timesteps,
                                                 windowed=n in self.windowed)) for n in self.neurons}
        outs.update({n: proc.s_out for n, proc in neurons.items()})
        for s in self.synapses:
            a_out = self._synapse(s, outs[g.predecessors(s)[0]])
            for target in g.successors(s):
                a_out.connect(neurons[target].a_in)
        paths: dict[str, dict[str, str]] = {}
        for i, n in enumerate(self.neurons):
            dtype = "int32" if g.nodes[n].payload_levels is not None else "int8"
            paths[n] = record(g, n, neurons[n], num_steps, record_states,
                              lambda what, i=i, n=n: recording_path(tmp, i, n, what), dtype)
        return source, paths
