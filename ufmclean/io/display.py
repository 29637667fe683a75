"""Display (OCR-ready ``uint8``) views of stored pixel values: modality LUT, VOI LUT, colour models.

Stale or nonsensical window tags are common in real data (8-bit values in 16-bit containers with a
12-bit window); when the window collapses nearly every pixel onto one end of the output range or onto
a sliver of it, the min-max of the modality output is used instead and a note says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["HIDDEN_VIEWS", "dicom_display", "dicom_views", "display_is_redundant", "grey_views", "linear_window", "minmax_uint8", "rgb_to_uint8"]

#: Fraction of pixels at one end of the windowed range above which the window is called stale.
CLIPPED_FRACTION = 0.98
#: Spread (1st..99th percentile) of windowed output, as a fraction of its range, below which the window is called stale.
MIN_SPREAD = 0.04
#: Percentiles of a frame's values that bound its ``robust`` view.
ROBUST_PERCENTILES = (0.5, 99.5)
#: The ``robust`` view is added when those percentiles span less than this share of the frame's
#: min-max range (a few outlier pixels then squeeze the data, and its text, into a few grey levels).
ROBUST_SHARE = 0.5
#: Views of the values a linear window clips (:func:`grey_views`): flat where the window shows the
#: data, so text is read only in their non-flat parts.
HIDDEN_VIEWS = ("above-window", "below-window")
#: Largest deviation (grey levels) of a display from a fitted line that still counts as a linear
#: window (rounding alone gives 0.5).
LINEAR_TOLERANCE = 1.0
#: Fewer clipped pixels than this cannot hold a glyph and its background: no hidden view for them.
MIN_HIDDEN_PIXELS = 16


def minmax_uint8(arr: np.ndarray) -> np.ndarray:
    """Scale ``arr`` (any shape, any real dtype) linearly so its min is 0 and its max 255; returns uint8, same shape.

    A constant array maps to zeros.
    """
    a = np.asarray(arr, dtype=np.float64)
    if a.size == 0:
        return np.zeros(a.shape, dtype=np.uint8)
    lo, hi = float(np.nanmin(a)), float(np.nanmax(a))
    if hi <= lo:
        return np.zeros(a.shape, dtype=np.uint8)
    out = (a - lo) * (255.0 / (hi - lo))
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _range_uint8(arr: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``arr`` mapped linearly from ``lo..hi`` onto 0..255, clipped; float32 input stays float32 (the
    views of one frame are several full-frame passes: half the memory traffic of float64)."""
    a = np.asarray(arr)
    if a.dtype != np.float32:
        a = a.astype(np.float64)
    if hi <= lo:
        return minmax_uint8(a)
    out = a - a.dtype.type(lo)
    out *= a.dtype.type(255.0 / (hi - lo))
    np.rint(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)


def rgb_to_uint8(arr: np.ndarray, *, bits_stored: int | None = None) -> np.ndarray:
    """Scale colour samples ``(..., S)`` to uint8 by their nominal bit depth (``bits_stored`` or dtype); alpha dropped."""
    a = np.asarray(arr)
    if a.shape[-1] == 4:
        a = a[..., :3]
    if a.dtype == np.uint8:
        return a.copy()
    if np.issubdtype(a.dtype, np.floating):
        return minmax_uint8(a)
    bits = bits_stored or a.dtype.itemsize * 8
    if a.size and int(a.max()) > 2**bits - 1:
        return minmax_uint8(a)
    return _range_uint8(a, 0.0, float(2**bits - 1))


def _voi_output_range(ds: Any) -> tuple[float, float]:
    """Nominal output range of pydicom's ``apply_windowing`` for ``ds`` (mirrors its rules)."""
    if ds.get("ModalityLUTSequence"):
        bits = int(ds.ModalityLUTSequence[0].LUTDescriptor[2])
        lo, hi = 0.0, float(2**bits - 1)
    elif int(ds.get("PixelRepresentation", 0)) == 0:
        lo, hi = 0.0, float(2 ** int(ds.BitsStored) - 1)
    else:
        lo, hi = -float(2 ** (int(ds.BitsStored) - 1)), float(2 ** (int(ds.BitsStored) - 1) - 1)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:
        lo, hi = lo * float(slope) + float(intercept), hi * float(slope) + float(intercept)
    return (min(lo, hi), max(lo, hi))


def _window_is_stale(out: np.ndarray, lo: float, hi: float) -> str | None:
    """Reason the windowed ``out`` is useless for reading (None when it is fine)."""
    if out.size == 0 or hi <= lo:
        return None
    span = hi - lo
    eps = span * 1e-6
    at_low = float(np.mean(out <= lo + eps))
    at_high = float(np.mean(out >= hi - eps))
    if max(at_low, at_high) >= CLIPPED_FRACTION:
        end = "lower" if at_low >= at_high else "upper"
        return f"window maps {max(at_low, at_high):.0%} of pixels to the {end} end"
    sample = out.ravel()[:: max(1, out.size // 200_000)]
    p1, p99 = np.percentile(sample, [1, 99])
    if (p99 - p1) < MIN_SPREAD * span:
        return f"window uses only {(p99 - p1) / span:.1%} of the output range"
    return None


def dicom_display(ds: Any, raw: np.ndarray, photometric: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Display view of decoded DICOM pixels.

    Parameters
    ----------
    ds : pydicom.Dataset
        The dataset the pixels came from (read-only use; a shallow copy is modified for LUTs).
    raw : np.ndarray
        ``(F, H, W)`` grey / palette indices or ``(F, H, W, S)`` colour (already RGB).
    photometric : str
        Photometric interpretation of ``raw``.

    Returns
    -------
    (display, notes) : ``display`` uint8 ``(F, H, W)`` grey or ``(F, H, W, 3)`` RGB; ``notes`` say what fell back.
    """
    from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut

    notes: list[str] = []
    pi = photometric.upper()
    if pi == "PALETTE COLOR":
        rgb = apply_color_lut(raw, ds)
        if rgb.dtype != np.uint8:
            rgb = rgb_to_uint8(rgb, bits_stored=8 if rgb.size and int(rgb.max()) <= 255 else 16)
        return np.ascontiguousarray(rgb), tuple(notes)
    if raw.ndim == 4:
        return rgb_to_uint8(raw, bits_stored=int(ds.get("BitsStored", 8) or 8)), tuple(notes)

    try:
        modality = apply_modality_lut(raw, ds)
    except Exception as exc:  # malformed rescale/LUT tags; stored values still show the text
        notes.append(f"modality LUT ignored ({type(exc).__name__}); using stored values")
        modality = raw.astype(np.float64)
    has_voi = bool(ds.get("VOILUTSequence")) or ("WindowCenter" in ds and "WindowWidth" in ds)
    display: np.ndarray | None = None
    if has_voi:
        try:
            windowed = apply_voi_lut(modality, ds, index=0, prefer_lut=True)
            if ds.get("VOILUTSequence"):
                lut = np.asarray(ds.VOILUTSequence[0].LUTData, dtype=np.float64)
                lo, hi = float(lut.min()), float(lut.max())
            else:
                lo, hi = _voi_output_range(ds)
            stale = _window_is_stale(np.asarray(windowed, dtype=np.float64), lo, hi)
            if stale:
                notes.append(f"VOI window ignored ({stale}); used min-max of the modality output")
            else:
                display = _range_uint8(windowed, lo, hi)
        except Exception as exc:
            notes.append(f"VOI LUT ignored ({type(exc).__name__}); used min-max of the modality output")
    if display is None:
        display = minmax_uint8(modality)
    if pi == "MONOCHROME1":
        display = 255 - display
    return display, tuple(notes)


def linear_window(values: np.ndarray, display: np.ndarray) -> tuple[float, float] | None:
    """The value range ``(lo, hi)`` that ``display`` maps linearly onto 0..255, or None.

    ``values``: one frame's real values ``(H, W)``; ``display``: its uint8 view ``(H, W)`` with text
    polarity as stored (not inverted). A linear VOI window (or a min-max) gives ``display =
    rint(255 (v - lo) / (hi - lo))`` clipped to 0..255: fitted on the pixels it does not clip, within
    rounding. ``None`` when too few pixels are unclipped or the mapping is not such a line (a
    sigmoid VOI function, a VOI LUT table): then nothing is assumed about the window.
    """
    f = np.asarray(values, dtype=np.float64).ravel()
    d = np.asarray(display).ravel()
    step = max(1, f.size // 250_000)
    f, d = f[::step], d[::step].astype(np.float64)
    inside = (d > 0) & (d < 255)
    if int(inside.sum()) < 64:
        return None
    f, d = f[inside], d[inside]
    f_mean = float(f.mean())
    spread = float(((f - f_mean) ** 2).sum())
    if spread <= 0:
        return None
    gain = float(((f - f_mean) * (d - d.mean())).sum()) / spread
    if gain <= 0:
        return None
    offset = float(d.mean()) - gain * f_mean
    if float(np.abs(d - (gain * f + offset)).max()) > LINEAR_TOLERANCE:
        return None
    return (-offset / gain, (255.0 - offset) / gain)


def display_is_redundant(display: np.ndarray, ranged: np.ndarray) -> bool:
    """True when one frame's ``display`` (uint8 ``(H, W)``) shows nothing its ``range`` view (the same
    frame's min-max, uint8) does not show at least as clearly.

    That is the case when ``display`` is a linear window of it (:func:`linear_window`) at most as
    steep: a stale window wider than the data (the issue-17 reproduction: 8-bit values under a
    12-bit window render at 0-41) only lowers the contrast, and what it clips the range view shows.
    Reading such a display as well costs a whole read and finds nothing more.
    """
    window = linear_window(ranged, display)
    return window is not None and window[1] - window[0] >= 255.0 - LINEAR_TOLERANCE


def grey_views(
    values: np.ndarray, display: np.ndarray, *, invert: bool = False
) -> tuple[tuple[str, np.ndarray], ...]:
    """Extra OCR views of grey pixel ``values`` beside the clinical ``display``.

    A model trains on the stored values, so text must be read in them whatever a window shows.
    Per frame:

    - where ``display`` is a linear window narrower than the frame's values (:func:`linear_window`),
      it already shows every unclipped pixel with more contrast than the min-max would, so only
      what it clips can hide text: ``above-window`` shows the values above the window, ``below-window``
      those below, each at the window's own contrast (or the min-max's, where the clipped values
      span more than one window width), everything else flat. Text is read in them only where they
      are not flat (:data:`HIDDEN_VIEWS`, :func:`ufmclean.detect.text.text_findings`);
    - otherwise (a window wider than the data, a non-linear VOI function): ``range``, the frame's own
      min-max (text hidden by a stale window, or 8-bit data in a 12/16-bit word, is at full contrast);
    - ``robust``: each frame stretched between its 0.5th and 99.5th percentile, only where those span
      less than half the min-max range (outlier pixels squeeze the rest into a few grey levels).

    A frame that does not need a view is flat in it (``below-window``: 255, else 0; inverted for
    MONOCHROME1); a view identical to ``display`` or to an earlier view, or flat in every frame, is
    not returned.

    Parameters
    ----------
    values : np.ndarray
        ``(F, H, W)`` real values (the modality output, or the stored values of a raster).
    display : np.ndarray
        ``(F, H, W)`` uint8 clinical view of the same frames (not changed).
    invert : bool
        MONOCHROME1: views are inverted like ``display`` so that text has the same polarity.

    Returns
    -------
    tuple of (name, view)
        Each view ``(F, H, W)`` uint8; empty when no view differs from ``display``.
    """
    v = np.asarray(values)
    if v.ndim != 3 or display.shape != v.shape:
        raise ValueError(f"values {v.shape} and display {display.shape} must both be (F, H, W)")
    ranged = np.zeros(v.shape, np.uint8)
    robust = np.empty(v.shape, np.uint8)
    above = np.zeros(v.shape, np.uint8)
    below = np.full(v.shape, 255, np.uint8)
    wanted = {"range": False, "robust": False, "above-window": False, "below-window": False}
    for i, frame in enumerate(v):
        f = np.asarray(frame, dtype=np.float32)
        lo, hi = float(f.min()), float(f.max())
        # In float64 like the display's own min-max, so the two compare equal where they are the same view.
        full = _range_uint8(np.asarray(frame, dtype=np.float64), lo, hi)
        shown = 255 - display[i] if invert else display[i]
        window = linear_window(f, shown) if not np.array_equal(full, shown) else None
        if window is not None and window[1] - window[0] < hi - lo:
            w_lo, w_hi = window
            width = w_hi - w_lo
            # Values the window clips, each side at the window's contrast (at least the min-max's).
            if hi > w_hi and int(np.count_nonzero(f > w_hi)) >= MIN_HIDDEN_PIXELS:
                above[i] = _range_uint8(f, w_hi, w_hi + max(width, hi - w_hi))
                wanted["above-window"] = True
            if lo < w_lo and int(np.count_nonzero(f < w_lo)) >= MIN_HIDDEN_PIXELS:
                below[i] = _range_uint8(f, w_lo - max(width, w_lo - lo), w_lo)
                wanted["below-window"] = True
        else:
            ranged[i] = full
            wanted["range"] = wanted["range"] or not np.array_equal(full, shown)
        sample = f.ravel()[:: max(1, f.size // 250_000)]
        p_lo, p_hi = (float(x) for x in np.percentile(sample, ROBUST_PERCENTILES))
        if hi > lo and p_hi > p_lo and (p_hi - p_lo) < ROBUST_SHARE * (hi - lo):
            wanted["robust"] = True
            robust[i] = _range_uint8(f, p_lo, p_hi)
        else:
            robust[i] = full
    out: list[tuple[str, np.ndarray]] = []
    for name, view in (("range", ranged), ("robust", robust), ("above-window", above), ("below-window", below)):
        if invert:
            view = 255 - view
        if wanted[name] and not np.array_equal(view, display) and not any(np.array_equal(view, o) for _, o in out):
            out.append((name, view))
    return tuple(out)


def dicom_views(ds: Any, raw: np.ndarray, photometric: str, display: np.ndarray) -> tuple[tuple[str, np.ndarray], ...]:
    """Extra OCR views (:func:`grey_views`) of decoded grey DICOM pixels; none for colour or palette.

    ``raw``: ``(F, H, W)`` stored values; ``display``: their uint8 clinical view from
    :func:`dicom_display`. The views come from the modality output (rescale / modality LUT), or from
    the stored values when those tags are malformed.
    """
    from pydicom.pixels import apply_modality_lut

    if raw.ndim != 3 or photometric.upper() == "PALETTE COLOR" or display.ndim != 3:
        return ()
    try:
        values = apply_modality_lut(raw, ds)
    except Exception:
        values = raw
    return grey_views(values, display, invert=photometric.upper() == "MONOCHROME1")
