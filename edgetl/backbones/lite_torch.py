"""A PyTorch EfficientNet-Lite used only to verify imported weights against the original checkpoint.

Written from the architecture description (TF-"same" padding, ReLU6, no squeeze-and-excitation); the
parameter names follow the checkpoint's state dict so that it loads with ``strict=True``.
"""
from __future__ import annotations

import math
from typing import Any

from .efficientnet_lite import STAGES, VARIANTS, round_filters, stage_repeats


def build_torch(variant: int) -> Any:  # long: its torch module classes, here so that only the import needs torch
    import torch
    from torch import nn
    from torch.nn import functional as F

    class SameConv(nn.Conv2d):
        def forward(self, x: Any) -> Any:  # TensorFlow "same": pad more at the bottom/right when needed
            ih, iw = x.shape[-2:]
            kh, kw = self.kernel_size
            sh, sw = self.stride
            ph = max((math.ceil(ih / sh) - 1) * sh + kh - ih, 0)
            pw = max((math.ceil(iw / sw) - 1) * sw + kw - iw, 0)
            x = F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2])
            return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def bn(c: int) -> Any:
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, k: int, s: int, e: int) -> None:
            super().__init__()
            mid = cin * e
            self.e = e
            if e != 1:
                self._expand_conv = SameConv(cin, mid, 1, bias=False)
                self._bn0 = bn(mid)
            self._depthwise_conv = SameConv(mid, mid, k, stride=s, groups=mid, bias=False)
            self._bn1 = bn(mid)
            self._project_conv = SameConv(mid, cout, 1, bias=False)
            self._bn2 = bn(cout)
            self.skip = s == 1 and cin == cout

        def forward(self, x: Any) -> Any:
            h = x
            if self.e != 1:
                h = F.relu6(self._bn0(self._expand_conv(h)))
            h = F.relu6(self._bn1(self._depthwise_conv(h)))
            h = self._bn2(self._project_conv(h))
            return h + x if self.skip else h

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            width = VARIANTS[variant][0]
            self._conv_stem = SameConv(3, 32, 3, stride=2, bias=False)
            self._bn0 = bn(32)
            blocks = []
            for (_, k, s, e, fin, fout), reps in zip(STAGES, stage_repeats(variant)):
                fin, fout = round_filters(fin, width), round_filters(fout, width)
                for r in range(reps):
                    blocks.append(Block(fin if r == 0 else fout, fout, k, s if r == 0 else 1, e))
            self._blocks = nn.ModuleList(blocks)
            self._conv_head = SameConv(round_filters(320, width), 1280, 1, bias=False)
            self._bn1 = bn(1280)
            self._fc = nn.Linear(1280, 1000)

        def forward(self, x: Any) -> Any:
            x = F.relu6(self._bn0(self._conv_stem(x)))
            for b in self._blocks:
                x = b(x)
            x = F.relu6(self._bn1(self._conv_head(x)))
            return self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))

    return Net().eval()
