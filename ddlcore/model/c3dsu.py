"""Conv3DSkipUNet (C3DSU, paper section 7.3): a 2D UNet whose skip connections pass through Conv3D.

Every frame of the clip goes through the same 2D encoder (4 ConvBlocks); each skip level's T
per-frame features go through a :class:`~ddlcore.model.blocks.TemporalSkip` (Conv3D, kernel
(T, 3, 3)) that yields the middle frame's features; the 2D decoder (4 ConvBlocks) reconstructs the
middle frame. With ``conv3d_bottleneck`` false (paper reading) the bottleneck passes the middle
frame's features unchanged; true (authors) puts a Conv3D on it too.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import ConvBlock, TemporalSkip
from .settings import ModelSettings


class SkipUNet(nn.Module):
    """The shared encoder/decoder of C3DSU and the UNet baseline.

    ``model``: the ``model`` settings (widths, heads, resize, post_conv_kernel and output are read here).
    ``temporal_levels[i]`` says whether skip level i (0 = first encoder block, 3 = bottleneck) has a
    Conv3D over the T frames; a level without one passes the middle frame's features.
    ``level_frames[i]`` (default: all) are the positions within ``read_frames`` that level i's Conv3D combines.
    ``forward(x)``: x float (B, C, T, H, W) in [0, 1] -> (B, C, H, W), the reconstructed middle frame.
    """

    def __init__(
        self,
        channels: int,
        frames: int,
        model: ModelSettings,
        temporal_levels: list[bool],
        read_frames: list[int] | None = None,
        level_frames: list[list[int]] | None = None,
    ) -> None:
        super().__init__()
        widths, kernels = list(model.widths), list(model.heads)
        resize, post = model.resize, model.post_conv_kernel
        self.channels, self.frames = channels, frames
        #: indices of the clip's T frames the model encodes (all of them, or the neighbours of the middle one)
        self.read_frames = list(range(frames)) if read_frames is None else list(read_frames)
        #: per skip level, the positions (within read_frames) whose features that level combines: all by default
        self.level_frames = [list(range(len(self.read_frames)))] * 4 if level_frames is None else level_frames
        ins = [channels] + widths[:3]
        self.encoder = nn.ModuleList(ConvBlock(i, o, kernels, resize, "down", post) for i, o in zip(ins, widths))
        self.skips = nn.ModuleList(
            TemporalSkip(w, len(used)) if temporal else nn.Identity()
            for w, temporal, used in zip(widths, temporal_levels, self.level_frames)
        )
        self.temporal_levels = list(temporal_levels)
        dec_in = [widths[3], 2 * widths[2], 2 * widths[1], 2 * widths[0]]
        dec_out = [widths[2], widths[1], widths[0], channels]
        self.decoder = nn.ModuleList(
            ConvBlock(i, o, kernels, resize, "up", post, final=(n == 3)) for n, (i, o) in enumerate(zip(dec_in, dec_out))
        )
        self.output = nn.Sigmoid() if model.output == "sigmoid" else nn.Identity()
        #: feed the encoder channels-last frames (set with the Conv2d weights by ddlcore.train.trainer.use_channels_last)
        self.channels_last = False

    def encode(self, frames: torch.Tensor) -> list[torch.Tensor]:
        """Per-frame encoder features: frames (N, C, H, W) -> 4 tensors (N, widths[i], H/2^(i+1), W/2^(i+1))."""
        features = []
        x = frames.contiguous(memory_format=torch.channels_last) if self.channels_last else frames
        for block in self.encoder:
            x = block(x)
            features.append(x)
        return features

    def decode(self, features: list[torch.Tensor]) -> torch.Tensor:
        """Middle-frame reconstruction from the read frames' features.

        features: 4 tensors (B, R, c_i, h_i, w_i), R = len(read_frames), in clip order -> (B, C, H, W).
        """
        skips = []
        for level, (f, skip) in enumerate(zip(features, self.skips)):
            if self.temporal_levels[level]:
                used = self.level_frames[level]
                skips.append(skip(f if len(used) == f.shape[1] else f[:, used]))
            else:
                skips.append(f[:, f.shape[1] // 2])
        x = self.decoder[0](skips[3])
        for block, skip in zip(self.decoder[1:], reversed(skips[:3])):
            x = block(torch.cat([x, skip], dim=1))
        return self.output(x)

    def clip_frames(self, x: torch.Tensor) -> torch.Tensor:
        """The frames the model reads from a clip x (B, C, T, H, W): (B, C, R, H, W), R = len(read_frames)."""
        if x.shape[2] != self.frames:
            raise ValueError(f"model expects clips of {self.frames} frames, got {x.shape[2]}")
        return x if len(self.read_frames) == self.frames else x[:, :, self.read_frames]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.clip_frames(x)
        b, c, t, h, w = x.shape
        if c != self.channels:
            raise ValueError(f"model expects clips of {self.channels} channels, got {c}")
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        features = [f.reshape(b, t, *f.shape[1:]) for f in self.encode(frames)]
        return self.decode(features)


class C3DSU(SkipUNet):
    """Conv3DSkipUNet: Conv3D on the three skip levels (and on the bottleneck if ``conv3d_bottleneck``).

    ``model.input`` "clip" (paper) reads all T frames; "neighbours" reads the T - 1 frames
    around the middle one, so the middle frame has to be interpolated rather than copied through the
    skips (the bottleneck then always has a Conv3D: there is no middle frame to pass). "coarse_middle"
    encodes all T frames, but only the ``model.coarse_levels`` deepest skip levels (the bottleneck
    first, at 1/16 of the frame size) combine the middle frame with its neighbours; the shallower ones
    see the neighbours alone, so the fine detail of the middle frame cannot be copied.
    ``frames``: the clip length T; ``model``: the ``model`` settings.
    """

    def __init__(self, channels: int, frames: int, model: ModelSettings) -> None:
        mode = model.input
        neighbours = mode == "neighbours"
        around = [i for i in range(frames) if i != frames // 2]
        levels = [True, True, True, mode != "clip" or bool(model.conv3d_bottleneck)]
        read = around if neighbours else None
        coarse = None
        if mode == "coarse_middle":
            deep = int(model.coarse_levels)
            coarse = [around if level < 4 - deep else list(range(frames)) for level in range(4)]
        super().__init__(channels, frames, model, levels, read, coarse)
