"""Weight-only int8 / int4 quantisation of the LLM's linear layers (edge deployment).

Only ``nn.Linear`` modules inside the language model's decoder are quantised; the
embeddings, LM head, vision tower, DRM and DRH stay in floating point. On CUDA torchao
(``quantize_`` with ``Int8WeightOnlyConfig`` / ``Int4WeightOnlyConfig``) is tried first;
everywhere else (and if torchao refuses) the portable ``QuantizedLinear`` is used:
int8 with one scale per output channel, int4 with one scale per group of
``group_size`` inputs, two 4-bit values packed per byte.
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from geode_ros.config import check_choice
from geode_ros.errors import GeodeError
from geode_ros.model.config import QUANT_MODES
from geode_ros.model.protocol import GeodeLike

log = logging.getLogger(__name__)
MODES = QUANT_MODES


class QuantizedLinear(nn.Module):
    """A linear layer with int8 (per-channel) or packed int4 (group-wise) weights."""

    def __init__(self, in_features: int, out_features: int, bits: int, group_size: int = 32,
                 bias: bool = True) -> None:
        super().__init__()
        if bits not in (4, 8):
            raise GeodeError(f'QuantizedLinear supports 4 or 8 bits, not {bits}')
        self.in_features, self.out_features = in_features, out_features
        self.bits, self.group_size = bits, group_size
        if bits == 8:
            self.register_buffer('qweight', torch.zeros(out_features, in_features,
                                                        dtype=torch.int8))
            self.register_buffer('scale', torch.ones(out_features))
        else:
            padded = -(-in_features // group_size) * group_size
            self.register_buffer('qweight', torch.zeros(out_features, padded // 2,
                                                        dtype=torch.uint8))
            self.register_buffer('scale', torch.ones(out_features, padded // group_size))
        self.register_buffer('bias', torch.zeros(out_features) if bias else None)

    @classmethod
    @torch.no_grad()
    def from_linear(cls, lin: nn.Linear, bits: int, group_size: int = 32) -> QuantizedLinear:
        w = lin.weight.detach().float()  # [O, I]
        q = cls(lin.in_features, lin.out_features, bits, group_size, lin.bias is not None)
        q.to(w.device)
        if bits == 8:
            s = w.abs().amax(dim=1).clamp_min(1e-12) / 127.0  # [O]
            q.qweight.copy_(torch.round(w / s[:, None]).clamp(-127, 127).to(torch.int8))
            q.scale.copy_(s)
        else:
            padded = q.scale.shape[1] * group_size
            wp = nn.functional.pad(w, (0, padded - w.shape[1])).view(w.shape[0], -1, group_size)
            s = wp.abs().amax(dim=2).clamp_min(1e-12) / 7.0  # [O, G]
            v = (torch.round(wp / s[..., None]).clamp(-8, 7) + 8).to(torch.uint8)
            v = v.view(w.shape[0], -1)  # [O, I_pad] in 0..15
            q.qweight.copy_(v[:, 0::2] | (v[:, 1::2] << 4))
            q.scale.copy_(s)
        if lin.bias is not None:
            q.bias = lin.bias.detach().float().clone()
        return q

    def dequantize(self, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """The float weight [O, I] these integers stand for."""
        if self.bits == 8:
            return self.qweight.to(dtype) * self.scale.to(dtype)[:, None]
        lo = (self.qweight & 0x0F).to(torch.int8) - 8
        hi = (self.qweight >> 4).to(torch.int8) - 8
        v = torch.stack([lo, hi], dim=-1).view(self.out_features, -1, self.group_size)
        w = v.to(dtype) * self.scale.to(dtype)[..., None]
        return w.view(self.out_features, -1)[:, :self.in_features]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bits == 8:  # per-output-channel scale commutes with the matmul
            y = nn.functional.linear(x, self.qweight.to(x.dtype)) * self.scale.to(x.dtype)
        else:
            y = nn.functional.linear(x, self.dequantize(x.dtype))
        return y + self.bias.to(x.dtype) if self.bias is not None else y

    def extra_repr(self) -> str:
        return f'in={self.in_features}, out={self.out_features}, bits={self.bits}'


def _replace_linears(root: nn.Module, bits: int, group_size: int) -> int:
    n = 0
    for name, mod in list(root.named_modules()):
        if isinstance(mod, nn.Linear):
            parent_name, _, child = name.rpartition('.')
            parent = root.get_submodule(parent_name) if parent_name else root
            setattr(parent, child, QuantizedLinear.from_linear(mod, bits, group_size))
            n += 1
    return n


def _torchao(root: nn.Module, mode: str, group_size: int) -> None:
    from torchao.quantization import Int4WeightOnlyConfig, Int8WeightOnlyConfig, quantize_

    cfg = Int8WeightOnlyConfig() if mode == 'int8' else Int4WeightOnlyConfig(group_size=group_size)
    quantize_(root, cfg, filter_fn=lambda m, fqn: isinstance(m, nn.Linear))


def quantize_llm(model: GeodeLike, mode: str | None, backend: str = 'auto',
                 group_size: int = 32) -> str:
    """Quantise the LLM decoder's linears in place; returns the backend used ('none' if off)."""
    check_choice('quantization', mode, MODES)
    if mode is None:
        return 'none'
    if getattr(model, 'quantization', None):
        raise GeodeError(f'model is already quantised ({model.quantization})')
    if model.lora_active:
        raise GeodeError('merge LoRA adapters (save_pretrained does) before quantising')
    layers = model.adapter.language_model.layers
    used = 'portable'
    if backend in ('auto', 'torchao') and model.device.type == 'cuda':
        try:
            dtype = model.adapter.embed_tokens.weight.dtype
            if mode == 'int4' and dtype != torch.bfloat16:
                raise GeodeError('torchao int4 kernels need dtype bfloat16')
            _torchao(layers, mode, group_size)
            probe = torch.zeros(1, 1, model.adapter.hidden_size, device=model.device, dtype=dtype)
            layers[0].mlp(probe)  # do the kernels run on this device?
            used = 'torchao'
        except Exception as exc:  # noqa: BLE001 - any torchao failure falls back
            if backend == 'torchao':
                raise GeodeError(f'torchao {mode} quantisation failed: {exc}') from exc
            log.warning('torchao %s failed (%s); using the portable path', mode, exc)
    elif backend == 'torchao':
        raise GeodeError('the torchao backend needs a CUDA device; use backend=auto/portable')
    if used == 'portable':
        _replace_linears(layers, 8 if mode == 'int8' else 4, group_size)
    model.quantization = f'{mode}:{used}'
    return used


def tensor_bytes(t: torch.Tensor) -> int:
    """Storage bytes of a tensor, including torchao tensor subclasses' inner tensors."""
    if hasattr(t, '__tensor_flatten__') and type(t) is not torch.Tensor \
            and not isinstance(t, nn.Parameter):
        names, _ = t.__tensor_flatten__()
        return sum(tensor_bytes(getattr(t, n)) for n in names)
    if isinstance(t, nn.Parameter) and type(t.data) is not torch.Tensor:
        return tensor_bytes(t.data)
    return t.numel() * t.element_size()


def llm_linear_bytes(model: GeodeLike) -> int:
    """Bytes of the LLM decoder's linear weights (+ scales/zero points once quantised)."""
    total = 0
    for mod in model.adapter.language_model.layers.modules():
        if isinstance(mod, QuantizedLinear):
            total += tensor_bytes(mod.qweight) + tensor_bytes(mod.scale)
        elif isinstance(mod, nn.Linear):
            total += tensor_bytes(mod.weight)
    return total
