"""The reset clock every custom Lava neuron of the families shares: ``LIFReset``'s periodic reset, and a send window.

A custom neuron resets its state every ``reset_interval`` steps at phase ``reset_offset`` (1-based ``time_step``, as
``LIFReset``) and, with ``window`` set, sends only in the ``window`` steps that start at each reset (zeros otherwise),
so that a recurrent synapse (or a shallower fan-in path) never carries one sample's spikes into the next sample's
window. Plain Python: no Lava import.
"""

from __future__ import annotations


def check_clock(reset_interval: int, reset_offset: int, window: int | None) -> None:
    if reset_interval < 1:
        raise ValueError("reset_interval must be >= 1")
    if reset_offset < 0:
        raise ValueError("reset_offset must be >= 0")
    if window is not None and not 1 <= window <= reset_interval:
        raise ValueError(f"window must lie in [1, reset_interval={reset_interval}], got {window}")


class ResetClock:
    """When a custom neuron resets and whether it may send, from its process parameters."""

    def __init__(self, proc_params: dict) -> None:
        self.interval = int(proc_params["reset_interval"])
        self.offset = int(proc_params["reset_offset"]) % self.interval
        window = proc_params["window"]
        self.window = self.interval if window is None else int(window)

    def resets(self, time_step: int) -> bool:
        return time_step % self.interval == self.offset

    def sends(self, time_step: int) -> bool:
        return (time_step - self.offset) % self.interval < self.window
