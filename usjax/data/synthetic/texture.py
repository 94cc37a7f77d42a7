"""Banks of precomputed random fields, built once per (seed, size, count) and cached.

A view crops a random window out of one field instead of synthesising noise, which is what makes
the generator fast: per view it costs a slice and a gather, not an FFT.
- speckle: Rayleigh-distributed amplitude of a complex Gaussian field blurred by an anisotropic
  point-spread function (wider across the beam than along it), mean 1; sampled in beam space.
- fine / coarse: smooth zero-mean, unit-variance fields for lesion heterogeneity and Doppler
  vessel patterns; fine_echo / coarse_echo: the same turned into a log-normal parenchyma
  echotexture (mean about 1), so views need not take the exponential.
"""
import dataclasses
import functools

import numpy as np

_BANK_STREAM = 0x5EC7  # keeps bank seeds apart from the per-exam streams
_ECHOTEXTURE_CONTRAST = 0.2


@dataclasses.dataclass(frozen=True)
class TextureBanks:
    speckle: np.ndarray  # float32 [count, 2S, 2S]
    fine: np.ndarray  # float32 [count, 2S, 2S]
    coarse: np.ndarray  # float32 [count, 2S, 2S]
    fine_echo: np.ndarray  # float32 [count, 2S, 2S]
    coarse_echo: np.ndarray  # float32 [count, 2S, 2S]

    @property
    def count(self) -> int:
        return self.speckle.shape[0]


def _gaussian_filter_fft(shape, sigma_rows, sigma_cols):
    fy = np.fft.fftfreq(shape[0])[:, None]
    fx = np.fft.fftfreq(shape[1])[None, :]
    return np.exp(-2 * np.pi ** 2 * ((fy * sigma_rows) ** 2 + (fx * sigma_cols) ** 2))


def _smooth_fields(rng, count, side, sigma):
    noise = rng.standard_normal((count, side, side))
    blur = _gaussian_filter_fft((side, side), sigma, sigma)
    fields = np.fft.ifft2(np.fft.fft2(noise) * blur).real
    fields -= fields.mean(axis=(1, 2), keepdims=True)
    fields /= fields.std(axis=(1, 2), keepdims=True)
    return fields.astype(np.float32)


def _speckle_fields(rng, count, side, scale):
    noise = rng.standard_normal((count, side, side)) + 1j * rng.standard_normal((count, side, side))
    psf = _gaussian_filter_fft((side, side), 0.6 * scale, 1.3 * scale)
    amplitude = np.abs(np.fft.ifft2(np.fft.fft2(noise) * psf))
    return (amplitude / amplitude.mean(axis=(1, 2), keepdims=True)).astype(np.float32)


@functools.lru_cache(maxsize=4)
def texture_banks(seed: int, size: int, count: int) -> TextureBanks:
    rng = np.random.default_rng([seed, _BANK_STREAM, size, count])
    scale = size / 128.0
    side = 2 * size
    fine = _smooth_fields(rng, count, side, 2.0 * scale)
    coarse = _smooth_fields(rng, count, side, 5.0 * scale)
    banks = TextureBanks(speckle=_speckle_fields(rng, count, side, scale), fine=fine,
                         coarse=coarse, fine_echo=np.exp(_ECHOTEXTURE_CONTRAST * fine),
                         coarse_echo=np.exp(_ECHOTEXTURE_CONTRAST * coarse))
    for field in dataclasses.fields(banks):
        getattr(banks, field.name).flags.writeable = False
    return banks


def crop(bank: np.ndarray, rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """A random window [height, width] of a random field of the bank (a view, no copy)."""
    k = int(rng.integers(bank.shape[0]))
    top = int(rng.integers(bank.shape[1] - height + 1))
    left = int(rng.integers(bank.shape[2] - width + 1))
    return bank[k, top:top + height, left:left + width]


def gather(bank: np.ndarray, rng: np.random.Generator, flat_index: np.ndarray) -> np.ndarray:
    """Sample a random window of a random field at precomputed positions: `flat_index` holds
    row * (2S) + col offsets within the window (e.g. beam-space coordinates of image pixels)."""
    k = int(rng.integers(bank.shape[0]))
    side = bank.shape[2]
    span_rows, span_cols = divmod(int(flat_index.max()), side)
    top = int(rng.integers(bank.shape[1] - span_rows))
    left = int(rng.integers(side - span_cols))
    return bank[k].reshape(-1)[top * side + left:][flat_index]
