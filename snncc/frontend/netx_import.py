"""Import lava-dl netx HDF5 networks (``.net``) as integer IR graphs: the network netx's own Lava code builds.

A netx file is already integer (weights, ``vThMant``, decays, biases), so the graph this module returns is an
integer graph (``keys.QUANTIZED``): the float-level passes have nothing to do on it and quantize only checks its
values against the target's formats (see :mod:`snncc.passes.base`, ``Pass.level``). Every value is what
``lava.lib.dl.netx.hdf5.Network`` (lava-dl 0.6.0) gives its Lava processes:

* ``dense``: ``optimize_weight_bits`` of the file's weights, then Lava Dense's first-step ``clip_weights`` and
  ``truncate_weights`` -> one ``QDense`` (mantissas halved while they exceed 8 signed bits, exactly);
* ``dense_rec``: ``weight`` and ``weight_rec`` quantized together (one exponent), each then clipped and truncated by
  its own Dense -> a ``QDense`` into the layer and a recurrent ``QDense`` (``keys.RECURRENT``) from the layer back
  into itself, graded where the block's input is (netx builds it with the block's input message bits);
* ``conv``: the file's PyTorch-layout kernel as Lava's ``Conv`` uses it (no exponent) -> ``QConv``;
* ``pool``: a per-channel sum pooling (netx 0.6.0 itself does not build it) -> a depthwise ``QConv`` of the pool's
  kernel; ``flatten``: nothing (snncc's flat vectors are CHW, as netx's ``transpose([2, 1, 0]).flatten()``);
* neurons: ``CUBA``/``LOIHI`` -> ``QLIF(du=iDecay-1, dv=vDecay, vth=vThMant, bias_mant=bias, bias_exp=6)`` with
  hard reset; ``SDNN`` -> ``QSigmaDelta`` (``Delta`` for the input block, ``Sigma`` for ``sigma_output``, else
  ``SigmaDelta`` with ReLU; ``spike_exp = state_exp = 6``);
* an ``input`` block with a neuron receives the graph input through a unit synapse (netx leaves its input port
  unconnected: how data reaches it is the caller's choice); without a neuron it only gives the input shape.

Anything else (complex, average, concat, convT, unpool blocks; RF neurons; non-ReLU SDNN activations; a
``dense_rec`` block that spikes before its first reset, see :func:`snncc.backends.lava.netx_layers.
silent_before_window`) is an :class:`UnsupportedLayerError` naming the block; a file that is not a readable netx
network a ModelLoadError.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np

from ..backends.lava.netx_layers import netx_quantization, silent_before_window
from ..conv import ConvGeometry, pair
from ..errors import ModelLoadError, UnsupportedLayerError
from ..families import REGISTRY
from ..ir import Graph, InputEncoding, QConv, QDense, keys

INPUT_LEVELS = 255  # payloads a netx input encoder (Delta) is fed: 8-bit data, as an image's pixels
DEFAULT_NEURON = {"type": "CUBA", "iDecay": 0, "vDecay": 4096, "vThMant": 1 << 17}  # netx's dense default
UNSUPPORTED = {"dense_comp": "complex dense", "average": "average",
               "concat": "concat", "convT": "transposed convolution", "unpool": "unpooling"}


def is_netx(path: Path) -> bool:
    """Whether ``path`` is a netx network: an HDF5 file with a top-level ``layer`` group and no NIR ``node``."""
    try:
        with h5py.File(path, "r") as f:
            return isinstance(f.get("layer"), h5py.Group) and "node" not in f
    except OSError:
        return False


def _text(ds: Any) -> str:
    value = ds[()]
    if isinstance(value, np.ndarray):
        value = value.ravel()[0] if value.size else b""
    return value.decode("ascii", "replace") if isinstance(value, bytes) else str(value)


def _scalar(group: h5py.Group, key: str, where: str, default: Any = None) -> Any:
    if key not in group:
        if default is None:
            raise ModelLoadError(f"{where}: the field '{key}' is missing")
        return default
    value = np.asarray(group[key][()])
    if value.size != 1 or not np.issubdtype(value.dtype, np.number) and value.dtype != bool:
        raise ModelLoadError(f"{where}: '{key}' must be one number, got {value!r}")
    return value.ravel()[0].item()


def _ints(group: h5py.Group, key: str, where: str) -> np.ndarray:
    """The integer array ``key`` (netx reads weights as ``astype(int)``; a fractional value means a damaged file)."""
    if key not in group or not isinstance(group[key], h5py.Dataset):
        raise ModelLoadError(f"{where}: the field '{key}' is missing")
    raw = np.asarray(group[key][()])
    if not np.issubdtype(raw.dtype, np.number):
        raise ModelLoadError(f"{where}: '{key}' is not numeric ({raw.dtype})")
    if not np.all(np.isfinite(raw)) or np.any(raw != np.round(raw)):
        raise ModelLoadError(f"{where}: '{key}' holds values that are not integers (netx files are fixed point)")
    return raw.astype(np.int64)


class _Reader:
    """Builds the graph block by block, as netx's ``Network._create`` walks the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.nodes: dict[str, Any] = {}
        self.edges: list[tuple[str, str]] = []
        self.prev = "input"  # the node the next synapse reads
        self.shape: tuple[int, ...] | None = None  # (C, H, W) or (n,) of what the next block reads
        self.payload: int | None = None  # largest payload of what the next block reads (None: binary spikes)
        self.encoding = InputEncoding()
        self.blocks: list[tuple[str, str]] = []  # (synapse, neuron layer) of each block, in netx's order
        self.recurrence: dict[str, str] = {}  # neuron layer -> its recurrent synapse (dense_rec blocks)

    def where(self, index: int, kind: str) -> str:
        return f"{self.path}: layer/{index} ({kind})"

    def read(self) -> Graph:
        try:
            f = h5py.File(self.path, "r")
        except OSError as exc:
            raise ModelLoadError(f"{self.path} is not a readable HDF5 file: {exc}") from None
        with f:
            layers = f.get("layer")
            if not isinstance(layers, h5py.Group) or not len(layers):
                raise ModelLoadError(f"{self.path}: a netx network needs a non-empty 'layer' group")
            for index in range(len(layers)):
                block = layers.get(str(index))
                if not isinstance(block, h5py.Group) or "type" not in block:
                    raise ModelLoadError(f"{self.path}: layer/{index} is missing or has no 'type' (netx numbers "
                                         f"its blocks 0..{len(layers) - 1})")
                self.block(index, block)
        neurons = [n for n in self.nodes if not n.startswith("syn_")]
        if not neurons:
            raise UnsupportedLayerError(f"{self.path}: the network has no neuron block")
        out_n = self.nodes[self.prev].size
        self.nodes["output"] = nir.Output(output_type={"output": np.array([out_n])})
        self.edges.append((self.prev, "output"))
        metadata = {keys.SOURCE_KIND: "netx", keys.DT: 1.0, keys.TIME_UNIT: "step", keys.QUANTIZED: True,
                    keys.INPUT: self.encoding.to_dict()}
        graph = Graph(nodes=self.nodes, edges=self.edges, metadata=metadata)
        graph.validate()
        try:
            silent_before_window(graph, self.blocks, self.recurrence)
        except UnsupportedLayerError as exc:  # named by its block, as every import error
            block = graph.nodes[exc.layer].metadata[keys.SOURCE].split(" ")[0]
            raise UnsupportedLayerError(exc.message, layer=block, hint=exc.hint) from None
        return graph

    def block(self, index: int, block: h5py.Group) -> None:
        kind = _text(block["type"])
        where = self.where(index, kind)
        if kind in UNSUPPORTED:
            raise UnsupportedLayerError(f"netx {UNSUPPORTED[kind]} blocks are not supported", layer=f"layer/{index}",
                                        hint="supported blocks: input, dense, dense_rec, conv, pool, flatten")
        if kind == "flatten":
            if self.shape is not None:
                self.shape = (int(np.prod(self.shape)),)
            return
        readers = {"input": self.input_block, "dense": self.dense_block, "dense_rec": self.dense_block,
                   "conv": self.conv_block, "pool": self.pool_block}
        if kind not in readers:
            raise UnsupportedLayerError(f"unknown netx block type '{kind}'", layer=f"layer/{index}",
                                        hint="supported blocks: input, dense, dense_rec, conv, pool, flatten")
        readers[kind](index, block, where)

    # ---- blocks ---------------------------------------------------------------------------------------------
    def input_block(self, index: int, block: h5py.Group, where: str) -> None:
        if "input" in self.nodes:
            raise UnsupportedLayerError("an input block after the first block", layer=f"layer/{index}")
        self.shape = tuple(int(v) for v in _ints(block, "shape", where).ravel())
        n = int(np.prod(self.shape))
        self.start(n)
        if "neuron" not in block:
            return
        syn = f"syn_{index}"
        # the encoder reads its input one to one: a depthwise 1x1 convolution, never an n x n matrix (PilotNet's
        # 39,600-pixel input would need 11.7 GiB as one)
        identity = QConv(weight=np.ones((n, 1, 1, 1), np.int64), input_shape=(n, 1, 1), groups=n, weight_exp=0)
        self.add(syn, identity, where)
        self.neuron(index, "input", block["neuron"], np.zeros(n, np.int64), where, n, encoder=True)
        if self.payload is not None:  # a graded encoder (SDNN's Delta) is fed graded data
            self.encoding = InputEncoding(kind="graded", scale=1.0, max_value=INPUT_LEVELS)
            self.nodes[syn].graded = True

    def start(self, n: int) -> None:
        if "input" not in self.nodes:
            self.nodes["input"] = nir.Input(input_type={"input": np.array([n])})

    def dense_block(self, index: int, block: h5py.Group, where: str) -> None:
        n = int(np.prod(_ints(block, "shape", where)))
        if "weight" not in block and "weight/real" in block:
            raise UnsupportedLayerError("netx complex dense blocks are not supported", layer=f"layer/{index}")
        w = _ints(block, "weight", where)
        w = w.reshape(n, -1) if w.ndim == 1 else w
        if w.ndim != 2 or w.shape[0] != n:
            raise ModelLoadError(f"{where}: weight of shape {w.shape} does not match the block's {n} neurons")
        if self.shape is not None and int(np.prod(self.shape)) != w.shape[1]:
            raise ModelLoadError(f"{where}: weight reads {w.shape[1]} inputs, the block before gives "
                                 f"{int(np.prod(self.shape))}")
        self.start(w.shape[1])
        parts = [w]
        if _text(block["type"]) == "dense_rec":
            w_rec = _ints(block, "weight_rec", where)
            w_rec = w_rec.reshape(n, -1) if w_rec.ndim == 1 else w_rec
            if w_rec.shape != (n, n):
                raise ModelLoadError(f"{where}: weight_rec of shape {w_rec.shape} does not feed the block's {n} "
                                     "neurons back into themselves")
            parts.append(w_rec)
        (mant, exp), *rec = dense_weights(parts, f"layer/{index}")
        syn = f"syn_{index}"
        graded = self.payload is not None
        node = QDense(weight=mant, weight_exp=exp, graded=graded)
        self.delays(block, node, where, n)
        self.add(syn, node, where)
        bias = _ints(block, "bias", where).ravel() if "bias" in block else np.zeros(n, np.int64)
        if bias.size == 1:
            bias = np.full(n, bias[0])
        neuron_cfg = block["neuron"] if "neuron" in block else DEFAULT_NEURON
        self.neuron(index, "dense", neuron_cfg, bias, where, n)
        self.shape = (n,)
        if rec:
            self.recurrent(index, rec[0], graded, where)

    def conv_block(self, index: int, block: h5py.Group, where: str) -> None:
        kernel = _ints(block, "weight", where)
        if kernel.ndim < 4:
            raise ModelLoadError(f"{where}: a conv kernel needs 4 dimensions, got {kernel.shape}")
        kernel = kernel.reshape(kernel.shape[:4])
        groups = int(_scalar(block, "groups", where, 1))
        self.conv(index, "conv", block, kernel, groups, where)

    def pool_block(self, index: int, block: h5py.Group, where: str) -> None:
        if self.shape is None or len(self.shape) != 3:
            raise UnsupportedLayerError("a pool block needs a (C, H, W) feature map before it",
                                        layer=f"layer/{index}")
        w = _ints(block, "weight", where)
        size = pair(tuple(int(v) for v in np.ravel(_ints(block, "kernelSize", where))) if "kernelSize" in block
                    else w.shape[-2:])
        channels = self.shape[0]
        kernel = np.broadcast_to(w.reshape(-1, *w.shape[-2:])[0] if w.ndim >= 2 else w.reshape(1, 1), size)
        self.conv(index, "pool", block, np.tile(kernel, (channels, 1, 1, 1)), channels, where)

    def conv(self, index: int, kind: str, block: h5py.Group, kernel: np.ndarray, groups: int, where: str) -> None:
        out = tuple(int(v) for v in _ints(block, "shape", where).ravel())
        if len(out) != 3:
            raise ModelLoadError(f"{where}: a {kind} block's shape must be (C, H, W), got {out}")
        stride, padding, dilation = (self.pair_field(block, key, where, d) for key, d in
                                     (("stride", 1), ("padding", 0), ("dilation", 1)))
        if self.shape is None:
            self.shape = _infer_input(out, kernel, stride, padding, dilation, groups, f"layer/{index}")
        if len(self.shape) != 3:
            raise UnsupportedLayerError(f"a {kind} block reads a (C, H, W) map; the block before gives "
                                        f"{self.shape}", layer=f"layer/{index}")
        try:
            geom = ConvGeometry(self.shape, out[0], kernel.shape[2:], stride, padding, dilation, groups)
        except ValueError as exc:
            raise ModelLoadError(f"{where}: {exc}") from None
        if geom.weight_shape != kernel.shape or tuple(geom.out_shape) != out:
            raise ModelLoadError(f"{where}: kernel {kernel.shape} on a {self.shape} map gives "
                                 f"{tuple(geom.out_shape)}, the block states {out}")
        self.start(geom.in_size)
        mant, exp = fit_mantissas(kernel, 0, f"layer/{index}")
        node = QConv(weight=mant, input_shape=self.shape, stride=stride, padding=padding, dilation=dilation,
                     groups=groups, weight_exp=exp, graded=self.payload is not None)
        self.delays(block, node, where, geom.out_size)
        self.add(f"syn_{index}", node, where)
        n = geom.out_size
        bias = _ints(block, "bias", where).ravel() if "bias" in block else np.zeros(out[0], np.int64)
        if bias.size == out[0]:  # netx: channel-wise
            bias = np.repeat(bias, n // out[0])
        elif bias.size == n:  # netx: neuron-wise, in Lava's (W, H, C) layout
            bias = bias.reshape(out[::-1]).transpose(2, 1, 0).ravel()
        else:
            raise ModelLoadError(f"{where}: bias of {bias.size} values fits neither {out[0]} channels nor {n} neurons")
        self.neuron(index, kind, block["neuron"] if "neuron" in block else DEFAULT_NEURON, bias, where, n)
        self.shape = out

    @staticmethod
    def pair_field(block: h5py.Group, key: str, where: str, default: int) -> tuple[int, int]:
        if key not in block:
            return (default, default)
        v = np.ravel(_ints(block, key, where))
        return pair(int(v[0])) if v.size == 1 else (int(v[0]), int(v[1]))  # the file's (y, x)

    # ---- pieces -----------------------------------------------------------------------------------------------
    def add(self, name: str, node: Any, where: str) -> None:
        node.metadata = {keys.SOURCE: where.split(": ", 1)[1], **node.metadata}
        self.nodes[name] = node
        self.edges.append((self.prev, name))
        self.prev = name

    def recurrent(self, index: int, weights: tuple[np.ndarray, int], graded: bool, where: str) -> None:
        """The recurrent synapse of a ``dense_rec`` block: from its neurons (``self.prev``) back into them."""
        neuron = self.prev
        if self.nodes[neuron].payload_levels is not None and not graded:
            raise UnsupportedLayerError("netx builds a dense_rec block's recurrent synapse with the block's input "
                                        "message bits; this block's input is binary, so netx would count each of "
                                        "its own graded payloads as one spike", layer=f"layer/{index}")
        name = f"rec_{index}"
        self.nodes[name] = QDense(weight=weights[0], weight_exp=weights[1], graded=graded,
                                  metadata={keys.SOURCE: f"{where.split(': ', 1)[1]} weight_rec",
                                            keys.RECURRENT: True})
        self.edges += [(neuron, name), (name, neuron)]
        self.recurrence[neuron] = name

    def delays(self, block: h5py.Group, node: Any, where: str, n: int) -> None:
        if "delay" not in block:
            return
        d = _ints(block, "delay", where).ravel()
        if np.any(d):  # axonal delays, per neuron (slayer) or one for all; quantize checks the target has them
            node.metadata[keys.DELAY] = [int(v) for v in d]

    def neuron(self, index: int, kind: str, cfg: Any, bias: np.ndarray, where: str, n: int,
               encoder: bool = False) -> None:
        fields = cfg if isinstance(cfg, dict) else _fields(cfg, where)
        layer = f"layer/{index}"
        family = REGISTRY.netx_family(str(fields.get("type")))
        if family is None:
            raise UnsupportedLayerError(f"netx neuron type '{fields.get('type')}' is not supported", layer=layer,
                                        hint="supported neurons: " + ", ".join(REGISTRY.netx_types()))
        try:
            node = family.from_netx(fields, bias, encoder, layer)
        except KeyError as exc:
            raise ModelLoadError(f"{where}: the neuron field {exc} is missing") from None
        except (TypeError, ValueError) as exc:
            raise ModelLoadError(f"{where}: {exc}") from None
        if node.size != n:
            raise ModelLoadError(f"{where}: the neuron has {node.size} values for {n} neurons")
        self.payload = node.payload_levels
        synapse = self.prev
        self.add(f"{kind}_{index}", node, where)
        self.blocks.append((synapse, self.prev))


def _fields(group: h5py.Group, where: str) -> dict[str, Any]:
    """A netx neuron group as plain values: strings decoded, one-number arrays as numbers."""
    out: dict[str, Any] = {}
    for key, ds in group.items():
        if not isinstance(ds, h5py.Dataset):
            continue
        value = ds[()]
        if isinstance(value, (bytes, str)) or getattr(ds.dtype, "kind", "") in "SOU":
            out[key] = _text(ds)
        else:
            out[key] = _scalar(group, key, where)
    return out


def dense_weights(parts: list[np.ndarray], layer: str) -> list[tuple[np.ndarray, int]]:
    """The synapses Lava's Dense processes compute from a netx dense block's weights (``weight``, and
    ``weight_rec`` of a ``dense_rec``): netx's ``optimize_weight_bits`` of them side by side, then each Dense's
    ``clip_weights``/``truncate_weights``; each as 8-bit signed mantissas and an exponent."""
    if not any(np.any(p) for p in parts):
        raise UnsupportedLayerError("netx cannot load an all-zero weight matrix (its optimize_weight_bits divides "
                                    "by zero)", layer=layer)
    lava, weight_exp = netx_quantization(parts)
    return [fit_mantissas(w, weight_exp, layer) for w in lava]


def fit_mantissas(weight: np.ndarray, exp: int, layer: str) -> tuple[np.ndarray, int]:
    """``weight << exp`` as signed 8-bit mantissas: halved (exponent raised) while they exceed [-128, 127], which
    is exact only while they are even."""
    w = weight.astype(np.int64)
    while w.size and (w.max() > 127 or w.min() < -128):
        if np.any(w % 2):
            raise UnsupportedLayerError(f"effective weights [{int(w.min())}, {int(w.max())}] (exponent {exp}) are "
                                        "not 8-bit signed mantissas with a shared exponent", layer=layer)
        w, exp = w // 2, exp + 1
    return w, exp


def _infer_input(out: tuple[int, ...], kernel: np.ndarray, stride: tuple[int, int], padding: tuple[int, int],
                 dilation: tuple[int, int], groups: int, layer: str) -> tuple[int, int, int]:
    """The input map of a first conv block without an input block: netx cannot infer it either; snncc does when
    the stride is 1 (one input size gives the output size)."""
    if stride != (1, 1):
        raise UnsupportedLayerError("the network starts with a strided conv block and no input block: its input "
                                    "size cannot be inferred (netx cannot either)", layer=layer,
                                    hint="export an input block (slayer's Input) or an input layer with a 'shape'")
    size = [o - 1 + d * (k - 1) + 1 - 2 * p for o, k, p, d in
            zip(out[1:], kernel.shape[2:], padding, dilation, strict=True)]
    return (int(kernel.shape[1]) * groups, int(size[0]), int(size[1]))


def read_netx_file(path: str | Path) -> Graph:
    """Read a netx HDF5 network into an integer IR graph (see the module docstring)."""
    try:
        return _Reader(Path(path)).read()
    except (KeyError, TypeError, ValueError) as exc:  # a damaged file fails inside h5py or numpy in assorted ways
        raise ModelLoadError(f"{path} is damaged or not a netx network: {exc}") from None
