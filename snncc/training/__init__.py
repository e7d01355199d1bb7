"""Training helpers above the compiler: deploy-exact mode and quantization-aware fine-tuning.

They compile the model with the compiler's own passes and hand each neuron module its deployed integers, so the
torch forward pass computes what the chip computes; nothing below this layer imports them.
"""

from .deploy import deploy_exact, deploy_plan
from .qat import QAT

__all__ = ["QAT", "deploy_exact", "deploy_plan"]
