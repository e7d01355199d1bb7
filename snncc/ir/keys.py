"""Every metadata key of the IR, declared once: what it holds and who writes it.

Node metadata (``node.metadata[...]``) carries annotations; graph metadata (``graph.metadata[...]``) the semantics
NIR leaves implicit and what the pipeline has done. Values are plain data (numbers, strings, lists, dicts), so
that they survive the NIR HDF5 round trip of :mod:`snncc.ir.serialize`.
"""

from __future__ import annotations

# ---- node metadata ---------------------------------------------------------------------------------------------
SOURCE = "snncc.source"  # provenance: the model layer (or the compiler rewrite) a node comes from
SCALE = "snncc.scale"  # quantize: float-to-integer scale of a layer (weight units per float unit)
RECURRENT = "snncc.recurrent"  # a synapse that feeds back: it delivers the previous step's output, no latency
FEEDBACK_DELAY = "snncc.feedback_delay"  # frontend: the steps a recurrent synapse's spikes take to come back in the
# trained model (absent: 1); balance-latency makes the deployed loop take as many (ir/timing.loop_latencies)
INPUT_GAIN = "snncc.input_gain"  # canonicalize (NIR discretisation): per-neuron input gain, folded into the weights
INPUT_SHAPE = "snncc.input_shape"  # frontend: the (C, H, W) map a pooling node reads (NIR pools do not state it)
POOL = "snncc.pool"  # canonicalize: {"kernel": [ky, kx], "weight": w} of a pooling turned into a depthwise conv
POOL_RELAY = "snncc.pool_relay"  # canonicalize: the pooling whose window sums a graded relay layer re-emits
FUSED_POOL = "snncc.fused_pool"  # canonicalize: the pooling fused into this synapse
MERGED = "snncc.merged"  # canonicalize: the two synapses merged into this one
BATCHNORM = "snncc.batchnorm"  # frontend: the batch norm folded into this synapse
RELAY = "snncc.relay"  # balance-latency: on relay neurons and synapses, the source they copy
DEPLOY_EXACT = "snncc.deploy_exact"  # frontend: the layer was trained in deploy-exact mode (its lowering is exact)
WEIGHT_CLIP = "snncc.weight_clip"  # calibrate: the |weight| the largest mantissa stands for (a list: per neuron)
DECAY_INT = "snncc.decay_int"  # calibrate: rounding-corrected integer decays {"du": int, "dv": int}
POPULATION = "snncc.population"  # lower-primitives: {"neurons": n, "members": N}; member r of neuron i is i*N + r
NODE_RESET = "snncc.reset"  # export --nir: a NIR neuron's reset NIR cannot say (subtract); from_nir reads it back
NODE_FIRE_AT_THRESHOLD = "snncc.fire_at_threshold"  # export --nir: a NIR neuron that fires at v = threshold
EXPORTED_FROM = "snncc.exported_from"  # export --nir: on a node its IR type; on the graph the bundle it came from
DELAY = "snncc.delay"  # frontend (netx): a synapse's axonal delays in steps (per output neuron, or one)
PRIMITIVE = "snncc.primitive"  # lower-primitives: {"name", "kind", "lava"}: the target primitive a layer runs on
SPIKE_RATES = "snncc.spike_rates"  # a neuron layer's measured mean spikes per step (one number, or one per
# neuron): the traffic weights of the traffic placer (snncc.mapping.coregraph); absent: each spike counted once

# ---- graph metadata --------------------------------------------------------------------------------------------
DT = "dt"  # seconds per step of the discrete model (torch models: one step)
RESET = "reset"  # the reset mode of the graph's continuous NIR neurons (snncc.ir.nodes.RESET_MODES)
FIRE_AT_THRESHOLD = "fire_at_threshold"  # NIR neurons fire on v >= threshold (true) or v > threshold (false)
MAX_SPIKES = "max_spikes"  # the most spikes a NIR neuron sends in one step (1: binary; snncc.ir.semantics)
DISCRETIZATION = "discretization"  # how NIR's ODEs become steps (snncc.ir.semantics.DISCRETIZATIONS)
SEMANTICS = "semantics"  # frontend: {"preset", "choices": {field: {"value", "by"}}, "repairs": [...]} (the record)
TIMESTEPS = "timesteps"  # steps per inference
INPUT = "input"  # the input encoding, see snncc.ir.encoding
SOURCE_KIND = "source"  # where the graph came from: torch | nir
SOURCE_FILE = "source_file"  # the model file it was read from
TIME_UNIT = "time_unit"  # "step" for torch models
CANONICAL = "canonical"  # canonicalize ran: the graph is in canonical float form
QUANTIZED = "quantized"  # quantize ran: only integer primitives remain
TARGET = "target"  # quantize: the name of the target the integers are for
MAPPING = "snncc.mapping"  # partition and place: the typed mapping (snncc.mapping.Mapping) in plain-data form
