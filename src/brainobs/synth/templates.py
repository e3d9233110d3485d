"""Stimulus templates: natural-image-like 1/f noise, panning movies, locally sparse noise."""

from __future__ import annotations

import numpy as np

LSN_GRAY, LSN_WHITE, LSN_BLACK = 127, 255, 0


def pink_noise(shape: tuple[int, ...], rng: np.random.Generator, exponent: float = 1.0
               ) -> np.ndarray:
    """Images with a 1/f^exponent amplitude spectrum over the last two axes, scaled to uint8.

    >>> pink_noise((2, 8, 8), np.random.default_rng(0)).dtype
    dtype('uint8')
    """
    h, w = shape[-2:]
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    f = np.sqrt(fx**2 + fy**2)
    f[0, 0] = 1.0
    amp = (1.0 / f**exponent).astype(np.float32)
    amp[0, 0] = 0.0
    spec = rng.standard_normal((*shape[:-2], h, w // 2 + 1)).astype(np.float32) + 1j * \
        rng.standard_normal((*shape[:-2], h, w // 2 + 1)).astype(np.float32)
    img = np.fft.irfft2(spec * amp, s=(h, w)).astype(np.float32)
    axes = (-2, -1)
    img -= img.mean(axis=axes, keepdims=True)
    img /= img.std(axis=axes, keepdims=True) + 1e-12
    return np.clip(127.5 + 45.0 * img, 0, 255).astype(np.uint8)


def natural_scenes(shape: tuple[int, int], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` natural-image-like scenes (uint8, frames × rows × cols)."""
    out = np.empty((n, *shape), np.uint8)
    step = max(1, int(2e7 // (shape[0] * shape[1])))  # bound FFT memory on real-size images
    for i in range(0, n, step):
        out[i:i + step] = pink_noise((min(step, n - i), *shape), rng, exponent=1.0)
    return out


def movie(shape: tuple[int, int], n_frames: int, rng: np.random.Generator) -> np.ndarray:
    """A movie: a window panning smoothly over a large 1/f image (uint8)."""
    h, w = shape
    big = pink_noise((h * 3, w * 3), rng)
    # Smooth random walk of the window's corner (camera motion).
    steps = rng.standard_normal((n_frames, 2)).cumsum(axis=0)
    # np.convolve(mode="same") returns the longer of the two: keep the kernel shorter.
    kernel = np.hanning(min(61, n_frames - 1 + n_frames % 2))
    kernel /= kernel.sum()
    path = np.column_stack([np.convolve(steps[:, k], kernel, mode="same") for k in range(2)])
    path -= path.min(axis=0)
    span = np.maximum(path.max(axis=0), 1e-9)
    ys = (path[:, 0] / span[0] * (2 * h - 1)).astype(np.int64)
    xs = (path[:, 1] / span[1] * (2 * w - 1)).astype(np.int64)
    rows = ys[:, None] + np.arange(h)[None, :]
    cols = xs[:, None] + np.arange(w)[None, :]
    out = np.empty((n_frames, h, w), np.uint8)
    chunk = 256
    for i in range(0, n_frames, chunk):
        r, c = rows[i:i + chunk], cols[i:i + chunk]
        out[i:i + chunk] = big[r[:, :, None], c[:, None, :]]
    return out


def locally_sparse_noise(shape: tuple[int, int], n_frames: int, spots: int,
                         rng: np.random.Generator) -> np.ndarray:
    """Sparse white (255) and black (0) spots on gray (127), ``spots`` per frame on average."""
    out = np.full((n_frames, *shape), LSN_GRAY, np.uint8)
    p = spots / (shape[0] * shape[1])
    u = rng.random(out.shape)
    out[u < p / 2] = LSN_WHITE
    out[(u >= p / 2) & (u < p)] = LSN_BLACK
    return out
