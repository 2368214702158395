"""The sampler's UNet call, traced into TorchScript once per input layout.

Why: on a 2-core CPU the v4 UNet's call is a little arithmetic wrapped in a lot of Python: diffusers' blocks, its
attention layers (each inspects its processor's signature on every call) and the module hooks. Traced, the same call
runs 1.4-1.7x faster (v4 UNet, batch 16: 82 -> 48 ms, batch 2: 33 -> 20 ms, docs/shapes-model.md) and gives the
same outputs to the bit. A trace takes about 1.5 s; `torch.compile` took 30-120 s a batch shape for 5-15% here.
TorchScript is deprecated in PyTorch 2.13 but works; where `torch.jit.trace` fails or is gone, the UNet runs eagerly.

- One trace serves every batch size: the UNet's Python branches on the token length and the latent grid, never on
  the batch, so the key is every input's layout but the batch (`test_traced_unet.py` checks other batch sizes).
- A trace holds the UNet's own parameters, not copies: an update in place (training, EMA) shows through.
- The first call of a layout runs the UNet eagerly, traces it and checks the trace against that eager output; a
  layout that fails to trace or to match runs eagerly from then on, with a warning.
- `bf16=True` runs the call under bfloat16 autocast (the pipeline's precision, precision.py), traced as such: the
  casts are recorded into the trace (JIT autocast off while tracing), so the trace runs them without an autocast
  context.
- DAAM (`ml_engine.attention.daam`): a traced call cannot run the recording processors' Python, so with a recorder
  the trace also returns every cross-attention layer's probabilities (computed beside the layer, as the recording
  processor does) and they are recorded after the call; under guidance, of the prompts' half only. The pixels are the
  same either way.
- `context_rows`: the runner gives the UNet's attention layers the shared-context processor
  (models/shared_context.py), so a caption's keys and values are projected once for all its candidates; a UNet
  whose layers a caller has given other processors gets the context repeated row by row instead.
"""

from __future__ import annotations

import contextlib
import logging
import warnings

import torch
from torch import nn

from ml_engine.attention.daam import SECOND_HALF, CrossAttentionRecorder, recording
from ml_engine.models.shared_context import SharedContextAttnProcessor, share_context
from ml_engine.models.unet import unet_output
from ml_engine.precision import bf16_autocast

log = logging.getLogger(__name__)


class _Taps:
    """A recorder (daam.recording) that keeps every layer's attention probabilities of `rows` of the batch (all, or
    the conditional half under guidance), as [rows, heads, hw, tokens], to be returned by the traced call."""

    def __init__(self, rows):
        self.rows = rows
        self.layers: list[torch.Tensor] = []

    def record(self, probs: torch.Tensor, heads: int) -> None:
        self.layers.append(probs.unflatten(0, (-1, heads)))


class _UNetCall(nn.Module):
    """unet_output as a module to trace; with `tapped`, it also returns each cross-attention layer's probabilities
    (`half`: of the batch's second half only, the conditional rows under guidance); with `bf16`, under bfloat16
    autocast, its outputs cast back to the latents' dtype."""

    def __init__(self, unet, tapped: bool, bf16: bool = False, half: bool = False, shared: bool = False):
        super().__init__()
        self.unet = unet
        self.tapped = tapped
        self.bf16 = bf16
        self.half = half
        self.shared = shared  # its inputs hold `context_rows` after the mask (models/shared_context.py)

    def forward(self, latents, t, states, mask, *shared):  # context_rows when shared
        rows = shared[0] if self.shared else None
        with bf16_autocast(latents.device, True) if self.bf16 else contextlib.nullcontext():
            if not self.tapped:
                return unet_output(self.unet, latents, t, states, mask, rows).to(latents.dtype)
            with recording(self.unet, _Taps(SECOND_HALF if self.half else slice(None))) as taps:
                sample = unet_output(self.unet, latents, t, states, mask, rows)
                return (sample.to(latents.dtype), *(probs.float() for probs in taps.layers))


def _trace(call: _UNetCall, inputs: tuple):
    """A trace of `call`; under bf16, with the autocast casts recorded as ops (JIT autocast off while tracing)."""
    if not call.bf16:
        return torch.jit.trace(call, inputs, check_trace=False)
    jit_autocast = torch._C._jit_is_autocast_enabled() if hasattr(torch._C, "_jit_is_autocast_enabled") else True
    torch._C._jit_set_autocast_mode(False)
    try:
        return torch.jit.trace(call, inputs, check_trace=False)
    finally:
        torch._C._jit_set_autocast_mode(jit_autocast)


def _layout(tensor: torch.Tensor) -> tuple:
    return tuple(tensor.shape[1:]), tensor.dtype, tensor.device


class TracedUNet:
    """`runner(latents, t, states, mask, recorder=None)`: the UNet's output, as `unet_output` gives it, from a trace
    of this input layout; with a DAAM `recorder`, its cross-attention is recorded too."""

    def __init__(self, unet, enabled: bool = True):
        self.unet = unet
        self.enabled = enabled
        share_context(unet)  # attention layers that project a caption's keys once for all its candidates
        self._traces: dict[tuple, torch.jit.ScriptModule | None] = {}  # None: this layout runs eagerly
        # the attention layers, found once: `unet.attn_processors` walks every module, ~3 ms a call on a CPU
        self._attention_layers = [m for m in unet.modules() if hasattr(m, "set_processor")]

    def __call__(
        self,
        latents,
        t,
        states,
        mask,
        recorder: CrossAttentionRecorder | None = None,
        bf16: bool = False,
        context_rows: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """`bf16`: run under bfloat16 autocast (the pipeline chose it: precision.py); float32 outputs.
        `context_rows` [batch]: `states` and `mask` hold one row per distinct caption, read by these batch rows."""
        t = torch.as_tensor(t, device=latents.device)
        shared = context_rows is not None
        if shared and not all(isinstance(m.processor, SharedContextAttnProcessor) for m in self._attention_layers):
            states, mask, shared = states[context_rows], mask[context_rows], False  # a caller's own processors
        inputs = (latents, t, states, mask) + ((context_rows,) if shared else ())
        tapped = recorder is not None
        # under guidance the recorder wants the second half (the prompts' rows): only those are tapped
        batch = latents.shape[0]
        half = tapped and batch % 2 == 0 and recorder.rows == slice(batch // 2, batch)
        # the processors are in the key: a trace bakes in the ones it ran, and a caller may have set others
        processors = tuple(id(layer.processor) for layer in self._attention_layers)
        key = (tapped, half, bf16, shared, processors, t.ndim, t.dtype, *map(_layout, inputs[:1] + inputs[2:]))
        trace = self._traces.get(key) if self.enabled else None
        if trace is not None:  # the common case: no module to build
            return self._record(trace(*inputs), recorder, half)
        call = _UNetCall(self.unet, tapped, bf16, half, shared)
        if self.enabled and key not in self._traces:
            return self._record(self._first_call(key, inputs, call), recorder, half)
        return self._record(call(*inputs), recorder, half)

    def _first_call(self, key: tuple, inputs: tuple, call: _UNetCall):
        """Run eagerly, trace, keep the trace only if it gives what the eager call gave."""
        expected = call(*inputs)
        self._traces[key] = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", torch.jit.TracerWarning)  # diffusers' shape checks: they are keyed
                warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit is; without it the UNet runs eagerly
                trace = _trace(call, inputs)
            got = trace(*inputs)
        except Exception as error:  # noqa: BLE001 -- any failure to trace leaves the eager call, which worked
            log.warning("the UNet could not be traced (%s: %s); it runs eagerly", type(error).__name__, error)
            return expected
        if not all(torch.equal(a, b) for a, b in zip(_flat(got), _flat(expected), strict=True)):
            log.warning("the traced UNet differs from the eager one for %s; it runs eagerly", key[5:])
            return expected
        self._traces[key] = trace
        return expected

    @staticmethod
    def _record(outputs, recorder: CrossAttentionRecorder | None, half: bool) -> torch.Tensor:
        if recorder is None:
            return outputs
        sample, *layers = outputs
        for probs in layers:  # [rows, heads, hw, tokens] -> the recorder's rows, as the recording processor gives
            recorder.record((probs if half else probs[recorder.rows]).flatten(0, 1), probs.shape[1])
        return sample


def _flat(outputs) -> tuple[torch.Tensor, ...]:
    return outputs if isinstance(outputs, tuple) else (outputs,)
