"""Appearance vectors: description, stored form, vectorised distances."""

from __future__ import annotations

import numpy as np

from rtcc.analytics import appearance


def _frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (120, 80, 3), dtype=np.uint8)


def test_a_description_has_two_normalised_halves() -> None:
    look = appearance.describe(_frame(1), (10, 10, 70, 110))
    assert look is not None and look.shape == (appearance.SIZE,)
    assert abs(float(look[: appearance.HALF].sum()) - 1) < 1e-5
    assert abs(float(look[appearance.HALF :].sum()) - 1) < 1e-5
    assert appearance.describe(_frame(1), (10, 10, 13, 14)) is None  # too small


def test_the_stored_form_round_trips_and_refuses_garbage() -> None:
    look = appearance.describe(_frame(2), (0, 0, 80, 120))
    assert look is not None
    text = appearance.encode(look)
    assert len(text) == 192
    back = appearance.decode(text)
    assert back is not None and np.allclose(back, look, atol=1e-3)
    assert appearance.decode("not base64!") is None
    assert appearance.decode(appearance.encode(look[:10])) is None
    assert appearance.decode("") is None


def test_vectorised_distances_equal_the_pairwise_ones() -> None:
    looks = [appearance.describe(_frame(s), (0, 0, 80, 120)) for s in range(6)]
    matrix = np.stack([v for v in looks if v is not None])
    query = matrix[0]
    expected = [appearance.distance(query, row) for row in matrix]
    assert np.allclose(appearance.distances(query, matrix), expected, atol=1e-6)
    assert appearance.distance(query, query) < 1e-3
    blended = appearance.blend(query, matrix[1], 0.5)
    assert blended is not None and np.allclose(blended, (query + matrix[1]) / 2)
    assert appearance.blend(None, query) is query
