"""Privacy masks black out their polygon and leave the rest of the picture alone."""

from __future__ import annotations

import av
import numpy as np

from rtcc.playback.tracks import apply_masks


def test_mask_blacks_out_its_polygon_only() -> None:
    image = np.full((240 * 3 // 2, 320), 200, np.uint8)
    frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
    masked = apply_masks(frame, [[(0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)]])
    luma = masked.to_ndarray(format="yuv420p")[:240]
    assert (luma[:, :150] == 16).all()
    assert (luma[:, 170:] == 200).all()
