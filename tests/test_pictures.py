"""Pictures of units: outlines where the mask's border is, and HTML that fetches nothing."""
import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from lthkit import pictures


def test_the_outline_is_the_border_of_the_mask_enlarged():
    images = torch.zeros(2, 3, 4, 4, dtype=torch.uint8)
    masks = torch.zeros(2, 4, 4, dtype=torch.bool)
    masks[0, 1:3, 1:3] = True                    # a 2×2 square in the first image only
    strip = pictures.outlined(images, masks, scale=2, gap=1)
    assert strip.shape == (8, 2 * 8 + 1, 3)
    yellow = (strip == pictures.OUTLINE).all(-1)
    first = yellow[:, :8]
    # the square is pixels 2..5 once enlarged; its border is drawn, its inside is not
    expected = np.zeros((8, 8), dtype=bool)
    expected[2:6, 2:6] = True
    expected[3:5, 3:5] = False
    assert (first == expected).all()
    assert not yellow[:, 9:].any()              # nothing in the second image
    assert (strip[:, 8] == 255).all()           # the gap between them is white


def test_masks_of_another_size_are_resized_to_the_image():
    images = torch.zeros(1, 3, 8, 8, dtype=torch.uint8)
    masks = torch.ones(1, 4, 4, dtype=torch.bool)
    yellow = (pictures.outlined(images, masks, scale=1) == pictures.OUTLINE).all(-1)
    assert yellow[0].all() and yellow[-1].all() and not yellow[1:-1, 1:-1].any()


def test_gallery_is_html_with_pictures_inline():
    strip = np.zeros((3, 5, 3), dtype=np.uint8)
    strip[1, 2] = (10, 20, 30)
    page = pictures.gallery([("unit <1>", strip)], title="Dense")
    assert "<h4>Dense</h4>" in page and "unit &lt;1&gt;" in page and "http" not in page
    data = page.split('src="data:image/png;base64,')[1].split('"')[0]
    back = np.asarray(Image.open(io.BytesIO(base64.b64decode(data))))
    assert (back == strip).all()


def test_only_uint8_images_are_outlined():
    with pytest.raises(ValueError, match="uint8"):
        pictures.outlined(torch.zeros(1, 3, 4, 4), torch.zeros(1, 4, 4, dtype=torch.bool))
