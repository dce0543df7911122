"""Pictures of what units detect: probe images with a unit's region outlined, as HTML that needs
no network (PNG data URIs)::

    strip = outlined(images, masks, scale=3)            # uint8 (H·3, N·(W·3 + gap), 3)
    html = gallery([("unit 5: red (IoU 0.21)", strip), ...], title="Dense network")
    IPython.display.HTML(html)
"""
from __future__ import annotations

import base64
import html
import io

import numpy as np
import torch

OUTLINE = (255, 221, 0)     # a yellow that stands out on every colour of the scenes palette


def outlined(images: torch.Tensor, masks: torch.Tensor, scale: int = 3, gap: int = 2,
             colour=OUTLINE) -> np.ndarray:
    """Images (N, 3, H, W) uint8 side by side, each enlarged ``scale`` times (nearest), with
    the border of its mask (N, H', W', bool; resized to H×W by nearest) drawn in ``colour``."""
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError("outlined takes uint8 images (N, 3, H, W)")
    n, _, h, w = images.shape
    masks = torch.nn.functional.interpolate(masks[:, None].float(), size=(h, w),
                                            mode="nearest")[:, 0] > 0
    big = images.repeat_interleave(scale, 2).repeat_interleave(scale, 3)
    region = masks.repeat_interleave(scale, 1).repeat_interleave(scale, 2)
    padded = torch.nn.functional.pad(region[:, None].float(), (1, 1, 1, 1))[:, 0] > 0
    inner = (padded[:, :-2, 1:-1] & padded[:, 2:, 1:-1] & padded[:, 1:-1, :-2]
             & padded[:, 1:-1, 2:])
    border = region & ~inner
    big = big.permute(0, 2, 3, 1).clone()
    big[border] = torch.tensor(colour, dtype=torch.uint8)
    strip = np.full((h * scale, n * (w * scale + gap) - gap, 3), 255, dtype=np.uint8)
    for i in range(n):
        strip[:, i * (w * scale + gap):i * (w * scale + gap) + w * scale] = big[i].numpy()
    return strip


def png(array: np.ndarray) -> str:
    """A uint8 RGB array as a PNG data URI."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def gallery(rows, title: str | None = None) -> str:
    """HTML: a heading and, per row, a caption above its picture (``(caption, array)``); the
    pictures shrink to the page's width, so they fit a phone."""
    parts = [f"<h4>{html.escape(title)}</h4>"] if title else []
    for caption, array in rows:
        parts.append(f'<figure style="margin:0 0 0.8em 0"><figcaption>{html.escape(caption)}'
                     f'</figcaption><img src="{png(array)}" alt="{html.escape(caption)}" '
                     f'style="max-width:100%;image-rendering:pixelated"></figure>')
    return "<div>" + "".join(parts) + "</div>"
