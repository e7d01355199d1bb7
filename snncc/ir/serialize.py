"""Read and write IR graphs in NIR's HDF5 layout.

Standard nodes are written exactly as ``nir.write`` writes them, so a graph of standard nodes is a plain NIR file
(``nir.read`` accepts it). snncc nodes use the same layout under their own type names (``snncc.QLIF`` ...). Graph
metadata (dt, encoding, placement, provenance) goes in the NIR ``metadata`` groups; values that HDF5 cannot hold
natively (nested lists, None) are stored as JSON strings with a ``json:`` prefix.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import h5py
import nir
import numpy as np

from ..errors import GraphError
from .checks import check_stored_fields
from .graph import Graph, type_name
from .nodes import SnnccNode, node_type

JSON_PREFIX = "json:"
FORMAT_KEY = "snncc.ir_version"
ORDER_KEY = "snncc.node_order"  # HDF5 lists groups alphabetically; keep the graph's own order
IR_VERSION = 1


def write_graph(path: str | Path, graph: Graph) -> None:
    """Write ``graph`` to ``path`` (NIR HDF5 layout)."""
    with h5py.File(path, "w") as f:
        f.create_dataset("version", data=nir.version, dtype=h5py.string_dtype())
        root = f.create_group("node")
        root.create_dataset("type", data="NIRGraph", dtype=h5py.string_dtype())
        nodes = root.create_group("nodes")
        for name, node in graph.nodes.items():
            _write_dict(nodes.create_group(name), _node_dict(node))
        edges = np.array(graph.edges, dtype=object).reshape(-1, 2) if graph.edges else np.zeros((0, 2), object)
        root.create_dataset("edges", data=edges.astype(h5py.string_dtype()) if edges.size else edges.astype("S1"))
        meta = {FORMAT_KEY: IR_VERSION, ORDER_KEY: list(graph.nodes), **graph.metadata}
        _write_dict(root.create_group("metadata"), _encode_meta(meta))


def read_graph(path: str | Path) -> Graph:
    """Read a graph written by :func:`write_graph` or by ``nir.write`` (standard NIR files load too)."""
    raw = _read_isolated(Path(path))
    if not isinstance(raw.get("type"), str) or raw["type"] != "NIRGraph":
        raise GraphError(f"{path}: the top-level node is {raw.get('type')!r}, not a NIRGraph")
    nodes, edges = _nodes_and_edges(raw, str(path))
    meta = _decode_meta(raw.get("metadata", {}))
    meta.pop(FORMAT_KEY, None)
    order = meta.pop(ORDER_KEY, None)
    if order and set(order) == set(nodes):
        nodes = {name: nodes[name] for name in order}
    return Graph(nodes=nodes, edges=edges, metadata=meta)


def _nodes_and_edges(raw: dict[str, Any], where: str) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The nodes and edges of a stored (sub)graph; ``where`` names it in errors."""
    stored = raw.get("nodes", {})
    if not isinstance(stored, dict):
        raise GraphError(f"{where}: 'nodes' must be a group of node groups")
    nodes = {name: _node_from_dict(name, d) for name, d in stored.items()}
    if "edges" not in raw:
        raise GraphError(f"{where}: the graph has no 'edges' dataset (NIR stores the edges as (source, target) "
                         "pairs)")
    edges_raw = np.asarray(raw["edges"])
    if edges_raw.size and (edges_raw.ndim != 2 or edges_raw.shape[1] != 2):
        raise GraphError(f"{where}: 'edges' must be (source, target) pairs, got an array of shape {edges_raw.shape}")
    return nodes, [(_s(a), _s(b)) for a, b in edges_raw.reshape(-1, 2)]


def is_standard(graph: Graph) -> bool:
    """True when every node is a standard NIR node (the file is then plain NIR)."""
    return not any(isinstance(n, SnnccNode) for n in graph.nodes.values())


# ---- node <-> dict ---------------------------------------------------------------------------------------
def _node_dict(node: Any) -> dict[str, Any]:
    d = node.to_dict()
    d["type"] = type_name(node)
    if "metadata" in d:
        d["metadata"] = _encode_meta(d["metadata"])
    return {k: v for k, v in d.items() if k not in ("input_type", "output_type") or type_name(node) == "Flatten"}


def _node_from_dict(name: str, d: Any) -> Any:
    if not isinstance(d, dict):
        raise GraphError(f"node '{name}' is stored as a dataset, not a group (NIR stores each node as a group of "
                         "fields)")
    type_ = d.get("type")
    if not isinstance(type_, str):
        raise GraphError(f"node '{name}' has no 'type' field")
    try:
        return _build_node(name, type_, d)
    except KeyError as exc:
        raise GraphError(f"node '{name}' of type {type_} lacks the field {exc}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise GraphError(f"node '{name}' of type {type_}: {exc}") from None


def _build_node(name: str, type_: str, d: dict[str, Any]) -> Any:
    meta = _decode_meta(d.get("metadata", {}))
    if isinstance(type_, str) and type_.startswith("snncc."):
        cls = node_type(type_)
        if cls is None:
            raise GraphError(f"node '{name}' has snncc type {type_!r}, which no loaded neuron family defines",
                             hint="import snncc.families (every snncc entry point does) before reading the file")
        d = {k: v for k, v in d.items() if k not in ("type", "metadata")}
        try:
            node = cls.from_dict(d)
        except (TypeError, ValueError) as exc:
            raise GraphError(f"node '{name}' of type {type_}: {exc}") from None
        node.metadata = meta
        return node
    if type_ in ("Input", "Output"):
        shape = np.asarray(d["shape"])
        if shape.dtype.kind not in "iu" or shape.ndim != 1 or shape.size == 0 or np.any(shape < 1):
            raise GraphError(f"node '{name}' ({type_}): 'shape' must list positive integer sizes, got {shape!r}")
        key = "input_type" if type_ == "Input" else "output_type"
        return getattr(nir, type_)(**{key: {key.split("_")[0]: shape}}, metadata=meta)
    if type_ == "NIRGraph":  # a nested graph: read like the top level; the frontend flattens it
        nodes, edges = _nodes_and_edges(d, f"nested graph '{name}'")
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False)
    if type_ == "Flatten":
        it = d.get("input_type")
        it = it if isinstance(it, dict) else {"input": it}
        return nir.Flatten(input_type=it, start_dim=int(d["start_dim"]), end_dim=int(d["end_dim"]), metadata=meta)
    if type_ not in nir.ir.__all_ir:
        raise GraphError(f"node '{name}' has unknown type {type_!r}")
    fields = {k: v for k, v in d.items() if k not in ("type", "metadata")}
    check_stored_fields(name, fields)
    try:
        return nir.dict2NIRNode({"type": type_, **fields, "metadata": meta})
    except Exception as exc:  # nir raises assorted errors for malformed fields
        raise GraphError(f"node '{name}' of type {type_}: {exc}") from None


# ---- HDF5 helpers ------------------------------------------------------------------------------------------
def _write_dict(group: h5py.Group, d: dict[str, Any]) -> None:
    for k, v in d.items():
        if v is None:
            group.create_dataset(k, data="None", dtype=h5py.string_dtype())
        elif isinstance(v, dict):
            if k == "metadata" and not v:
                continue
            _write_dict(group.create_group(str(k)), v)
        elif isinstance(v, str):
            group.create_dataset(k, data=v, dtype=h5py.string_dtype())
        elif isinstance(v, np.ndarray):
            group.create_dataset(k, data=v)
        else:
            group.create_dataset(k, data=v)


def _read_group(group: h5py.Group, file_bytes: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _read_group(item, file_bytes)
        else:
            _check_stored_size(item, file_bytes)
            val = item[()]
            out[key] = _s(val) if isinstance(val, bytes) else val
    return out


READ_SECONDS = 20.0  # a damaged HDF5 file can make the HDF5 library loop forever; no sound file takes this long
READ_BYTES_PER_SECOND = 20e6


def _read_isolated(path: Path) -> dict[str, Any]:
    """The file's raw node tree, read in a forked child process: a damaged file that makes the HDF5 library loop or
    crash (which no Python code can interrupt) then costs a timeout and a clear error, not a hung compiler."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return _read_raw(path)
    ctx = multiprocessing.get_context("fork")
    receiver, sender = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_read_in_child, args=(path, sender), daemon=True)
    child.start()
    sender.close()
    limit = READ_SECONDS + path.stat().st_size / READ_BYTES_PER_SECOND
    try:
        if not receiver.poll(limit):
            raise GraphError(f"{path}: reading it did not finish in {limit:.0f} s (a damaged HDF5 file)")
        try:
            ok, payload = receiver.recv()
        except EOFError:
            child.join()
            raise GraphError(f"{path}: the HDF5 reader crashed on it (exit status {child.exitcode}); the file is "
                             "damaged") from None
    finally:
        if child.is_alive():
            child.kill()
        child.join()
        receiver.close()
    if not ok:
        raise GraphError(payload)
    return payload


def _read_in_child(path: Path, sender: Any) -> None:
    try:
        message: tuple[bool, Any] = (True, _read_raw(path))
    except GraphError as exc:
        message = (False, str(exc))
    sender.send(message)
    sender.close()


def _read_raw(path: Path) -> dict[str, Any]:
    try:
        with h5py.File(path, "r") as f:
            return _read_group(f["node"], os.path.getsize(path))
    except GraphError:
        raise
    except (OSError, KeyError) as exc:
        raise GraphError(f"{path} is not a NIR/snncc graph file: {exc}") from None
    except Exception as exc:  # a damaged HDF5 file makes h5py fail in assorted ways while reading it
        raise GraphError(f"{path} is a damaged HDF5 file ({type(exc).__name__}: {exc})") from None


def _check_stored_size(item: h5py.Dataset, file_bytes: int) -> None:
    """Refuse a dataset whose header claims more data than the file can hold (a damaged file would otherwise make
    h5py read, or allocate, for as long as the claim says)."""
    claimed = int(np.prod(item.shape or (), dtype=object)) * item.dtype.itemsize
    limit = file_bytes if item.compression is None else 1 << 32
    if claimed > limit:
        raise GraphError(f"dataset '{item.name}' claims {claimed} bytes, more than the file can hold (damaged file)")


def _s(x: Any) -> Any:
    return x.decode("utf8", errors="replace") if isinstance(x, bytes) else x


def _encode_meta(meta: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in meta.items():
        if isinstance(v, (str, int, float, bool, np.ndarray, np.generic)) and not (
            isinstance(v, str) and v.startswith(JSON_PREFIX)
        ):
            out[k] = v
        else:
            out[k] = JSON_PREFIX + json.dumps(v, default=_json_default)
    return out


def _decode_meta(meta: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in meta.items():
        if isinstance(v, str) and v.startswith(JSON_PREFIX):
            out[k] = json.loads(v[len(JSON_PREFIX):])
        elif isinstance(v, np.generic):
            out[k] = v.item()
        elif isinstance(v, dict):
            out[k] = _decode_meta(v)
        else:
            out[k] = v
    return out


def _json_default(o: Any) -> Any:
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.generic):
        return o.item()
    raise TypeError(f"cannot serialise {type(o).__name__} in graph metadata")
