"""Read one image file of a real exam into views: uint8 [H, W, 3] arrays.

PNG and JPEG give one view; a DICOM file gives one view per frame (a cine loop becomes its frames).
Pixels are decoded completely here, so a truncated file fails at import time with its own name
rather than later inside the dataset writer.
"""
import pathlib

import numpy as np
import PIL.Image
import pydicom

PIL_SUFFIXES = (".png", ".jpg", ".jpeg")
DICOM_SUFFIXES = (".dcm", ".dicom")
IMAGE_SUFFIXES = PIL_SUFFIXES + DICOM_SUFFIXES
# Modes PIL converts to RGB without losing meaning; 16-bit and float images need a window first.
_PIL_MODES = ("1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr")


def is_image_file(path: pathlib.Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def read_views(path: pathlib.Path) -> list[np.ndarray]:
    """The views stored in one image file; ValueError (or the decoder's own error) on bad data."""
    suffix = path.suffix.lower()
    if suffix in PIL_SUFFIXES:
        return [_read_pil(path)]
    if suffix in DICOM_SUFFIXES:
        return _read_dicom(path)
    raise ValueError(f"unsupported image type {suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}")


def _read_pil(path: pathlib.Path) -> np.ndarray:
    with PIL.Image.open(path) as image:
        image.load()  # decode now: PIL opens lazily and a truncated file only fails on load
        if image.mode not in _PIL_MODES:
            raise ValueError(f"image mode {image.mode!r} is not 8-bit; convert it to 8-bit "
                             "grayscale or RGB")
        return np.asarray(image.convert("RGB"))


def _read_dicom(path: pathlib.Path) -> list[np.ndarray]:
    dataset = pydicom.dcmread(path)
    if "PixelData" not in dataset:
        raise ValueError("DICOM file has no pixel data (truncated, or not an image)")
    pixels = dataset.pixel_array  # pydicom converts YBR colour to RGB
    frames = int(dataset.get("NumberOfFrames") or 1)
    samples = int(dataset.get("SamplesPerPixel") or 1)
    if frames == 1:
        pixels = pixels[None]
    pixels = _to_uint8(pixels, int(dataset.get("BitsStored") or 8))
    if samples == 1:
        if dataset.get("PhotometricInterpretation") == "MONOCHROME1":
            pixels = 255 - pixels  # MONOCHROME1 stores white as 0
        pixels = np.repeat(pixels[..., None], 3, axis=-1)
    if pixels.ndim != 4 or pixels.shape[-1] != 3:
        raise ValueError(f"DICOM pixel array has shape {pixels.shape}; expected frames of "
                         "grayscale or RGB pixels")
    return list(pixels)


def _to_uint8(pixels: np.ndarray, bits_stored: int) -> np.ndarray:
    """Keep the top 8 stored bits: ultrasound is 8-bit almost always, this covers the rest."""
    if pixels.dtype == np.uint8:
        return pixels
    if pixels.dtype.kind != "u":
        raise ValueError(f"DICOM pixels are {pixels.dtype}; only unsigned integer pixels "
                         "are supported")
    shift = max(bits_stored - 8, 0)
    return np.clip(pixels >> shift, 0, 255).astype(np.uint8)
