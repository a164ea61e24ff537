"""Building blocks of the C3DSU and UNet models: multi-head convolution, ConvBlock, temporal skip.

A ConvBlock (paper section 7.3) is: parallel Conv2D heads with "same" padding, concatenated,
BatchNorm, ReLU, resize (down in the encoder, up in the decoder), a post Conv2D, BatchNorm, ReLU.
Its BatchNorm layers are :class:`SplitBatchNorm2d`: ordinary BatchNorm2d that can also normalise the
parts of a stacked batch by each part's own statistics (one forward standing for several).
"""

from __future__ import annotations

from collections import Counter

import torch
import torch.nn.functional as F
from torch import nn


class MultiHeadConv2d(nn.Module):
    """Parallel "same"-padded Conv2D heads whose outputs are concatenated along channels.

    Heads sharing a kernel size are one convolution with ``count * head_channels`` outputs (faster
    than separate convolutions, same result). Output channel order: heads grouped by kernel size,
    in the order each size first appears in ``kernels``.
    Input (N, in_channels, H, W) -> output (N, len(kernels) * head_channels, H, W).
    """

    def __init__(self, in_channels: int, head_channels: int, kernels: list[int]) -> None:
        super().__init__()
        counts = Counter(kernels)
        self.kernels = list(counts)
        self.convs = nn.ModuleList(
            nn.Conv2d(in_channels, counts[k] * head_channels, kernel_size=k, padding=k // 2) for k in self.kernels
        )
        self.out_channels = len(kernels) * head_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if len(self.convs) == 1:
            return self.convs[0](x)
        return torch.cat([conv(x) for conv in self.convs], dim=1)


class SplitBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training forward can treat its batch as equal consecutive parts, one per earlier forward.

    With ``part_updates`` None (the default) it is nn.BatchNorm2d. Set to a tuple of k booleans (see
    :func:`ddlcore.model.split_batchnorm`), a training forward splits the batch (k * B, C, H, W) into k parts
    of B, normalises each by its own batch statistics and updates the running statistics with the parts whose
    flag is true, in order; every part counts in ``num_batches_tracked``, as a forward under
    :func:`~ddlcore.model.frozen_batchnorm_statistics` does. The result: the outputs, gradients and running
    statistics of k separate forwards of the parts, from one forward whose convolutions see the whole batch.
    Parameters and buffers are BatchNorm2d's (same state_dict). Evaluation forwards ignore the parts.
    """

    def __init__(self, num_features: int) -> None:
        super().__init__(num_features)
        #: per part of a stacked training batch, whether it updates the running statistics; None = one batch
        self.part_updates: tuple[bool, ...] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.part_updates is None or not self.training:
            return super().forward(x)
        outputs = []
        for part, update in zip(x.chunk(len(self.part_updates)), self.part_updates, strict=True):
            factor = 0.0
            if self.track_running_stats:
                self.num_batches_tracked.add_(1)
                if update:
                    factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
            use_running = update and self.track_running_stats
            outputs.append(F.batch_norm(part, self.running_mean if use_running else None,
                                        self.running_var if use_running else None, self.weight, self.bias,
                                        True, factor, self.eps))
        return torch.cat(outputs)


class ConvBlock(nn.Module):
    """One encoder (``direction="down"``) or decoder (``"up"``) block; halves or doubles H and W.

    resize ``"pool"``: heads of ``out_channels`` each, 2x2 max-pool down / bilinear x2 up.
    resize ``"pixelshuffle"`` (authors): PixelUnshuffle(2) down (heads of ``out_channels``, 4x the
    channels after the resize) or heads of ``4 * out_channels`` and PixelShuffle(2) up.
    ``final=True`` leaves out the last BatchNorm and ReLU (the model's output block).
    Input (N, in_channels, H, W) -> (N, out_channels, H/2, W/2) down or (N, out_channels, 2H, 2W) up.
    """

    def __init__(self, in_channels: int, out_channels: int, kernels: list[int], resize: str, direction: str,
                 post_conv_kernel: int, final: bool = False) -> None:
        super().__init__()
        shuffle_up = resize == "pixelshuffle" and direction == "up"
        self.heads = MultiHeadConv2d(in_channels, out_channels * (4 if shuffle_up else 1), kernels)
        width = self.heads.out_channels
        self.norm1 = SplitBatchNorm2d(width)
        if resize == "pixelshuffle":
            self.resize: nn.Module = nn.PixelUnshuffle(2) if direction == "down" else nn.PixelShuffle(2)
            resized = width * 4 if direction == "down" else width // 4
        else:
            self.resize = nn.MaxPool2d(2) if direction == "down" else nn.Upsample(scale_factor=2, mode="bilinear")
            resized = width
        self.post = nn.Conv2d(resized, out_channels, kernel_size=post_conv_kernel, padding=post_conv_kernel // 2)
        self.norm2 = nn.Identity() if final else SplitBatchNorm2d(out_channels)
        self.final = final

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.norm1(self.heads(x)))
        x = self.post(self.resize(x))
        return x if self.final else F.relu(self.norm2(x))


class TemporalSkip(nn.Module):
    """Conv3D with kernel (T, 3, 3) over the T frames' features of one skip level, keeping the middle frame.

    No temporal padding, so the single output frame sees all T inputs (the same as the authors'
    "same"-padded Conv3d followed by taking the middle frame). It is computed as one Conv2D over the
    T frames stacked along channels, which is exact and much faster than Conv3d on CPU; the weight
    keeps the Conv3d layout (out, in, T, 3, 3).
    Input (B, T, channels, h, w) -> (B, channels, h, w).
    """

    def __init__(self, channels: int, frames: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(channels, channels, kernel_size=(frames, 3, 3), padding=(0, 1, 1))
        self.frames = frames

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = x.shape
        weight = self.conv.weight.transpose(1, 2).reshape(c, t * c, 3, 3)
        return F.conv2d(x.reshape(b, t * c, h, w), weight, self.conv.bias, padding=1)
