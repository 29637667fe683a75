"""PP-OCRv4 (DBNet detector + CTC recogniser through ONNX Runtime) behind the OcrEngine seam.

Detection in two scales: one light detector pass over the whole frame brought to at most
``coarse_side`` (512) px (:func:`~ufmclean.ocr.ppocr.detector_scale`), then the candidate text lines of
the cheap pixel pass (:func:`~ufmclean.ocr.fast.text_lines`) that it left uncovered are detected
again, each at the scale that makes its text about 28 px tall, packed into one small mosaic. The
coarse pass finds what is big enough to survive the downscale, the mosaic what is small; the
detector sees a few hundred thousand pixels instead of a 2048² frame (cost: bench/scan.py). A
frame too busy for candidates is detected whole at full detail. Then every box of the frame is
recognised in width-sorted batches. Like the easyocr engine's fast
strategy, short candidate lines the detector did not cover (lone laterality letters, dark-on-light
labels, faint letter fragments: :func:`~ufmclean.ocr.direct.direct_candidates`) are read as they are,
at a stricter confidence.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np

from ufmclean.ocr.base import TextRegion, check_image
from ufmclean.ocr.direct import direct_candidates, fragment_letters, label_patches
from ufmclean.ocr.fast import (
    CandidateSettings,
    cut_short,
    detect_in_mosaic,
    drop_duplicates,
    plan_crops,
    text_lines,
    uncovered,
)
from ufmclean.ocr.mosaic import Crop
from ufmclean.ocr.ppocr import DetectorSettings, TextDetector, TextRecognizer, detector_scale
from ufmclean.ocr.recall import is_found
from ufmclean.records import BBox


Strategy = Literal["fast", "full"]
#: Detector input sizing per strategy. ``fast`` (whole frames): the shorter side is brought to at
#: least 384 px (sample_data 256² recall 432/433 at 384, 512 and 736; 429/433 at native 256), and
#: frames larger than 512 px are detected coarse-then-fine (module docstring; 640 cost 0.53 CPU-s per
#: 1024² image against 0.44 at 512, recall equal on bench/scan.py sets).
#: ``full`` (small crops, e.g. the residual check's): at least 128 px, so a 48-px line crop is
#: not blown up to a frame, and one pass.
STRATEGY_DETECTOR = {"fast": DetectorSettings(min_side=384, coarse_side=512), "full": DetectorSettings(min_side=128)}


class PpOcrEngine:
    """PP-OCRv4 English/Chinese reader from the ``rapidocr-onnxruntime`` wheel's ONNX files.

    Parameters
    ----------
    device : {"auto", "cpu", "cuda"}
        ``cuda`` uses onnxruntime's CUDA provider when the installed onnxruntime has it.
    strategy : {"fast", "full"}
        ``fast`` for whole frames, ``full`` for small crops (see ``STRATEGY_DETECTOR``); ``full``
        also reads a line-shaped crop whole, without a detector box.
    threads : int, optional
        ONNX Runtime intra-op threads (default: :func:`ufmclean.ocr.thread_budget`, which the
        pipeline's worker pools set per process).
    min_confidence : float
        Detector-box reads less sure than this are dropped.
    direct_min_confidence : float
        The same for candidate lines read without a detector box (more of them are not text).
    detector : DetectorSettings, optional
    candidates : CandidateSettings, optional
        Settings of the candidate pass that finds lone letters the detector misses.
    """

    name = "ppocr"

    def __init__(
        self,
        device: str = "auto",
        *,
        strategy: Strategy = "fast",
        threads: int | None = None,
        min_confidence: float = 0.1,
        direct_min_confidence: float = 0.3,
        detector: DetectorSettings | None = None,
        candidates: CandidateSettings | None = None,
    ) -> None:
        from ufmclean.ocr import thread_budget

        if strategy not in STRATEGY_DETECTOR:
            raise ValueError(f"strategy must be 'fast' or 'full', got {strategy!r}")
        self.device = _resolve_device(device)
        self.strategy = strategy
        n = max(1, int(threads)) if threads is not None else thread_budget()
        self.min_confidence = float(min_confidence)
        self.direct_min_confidence = float(direct_min_confidence)
        self.direct_max_height = 32
        self.box_margin = 0.2
        self.fine_below = 24  # detector px: coarse boxes of smaller text are detected again at their scale
        self.shrunk_retry = 1.6  # scale factor of the second try of a downscaled crop the mosaic found nothing in
        # read_regions: a region this share of the frame or more is read like a frame, whose coarse pass
        # finds text too big for the candidates (bench/views.py monochrome1, a bone window clipping most
        # of the frame: 0.22 CPU-s/img all views either way).
        self.whole_region = 0.25
        self.candidates = candidates or CandidateSettings()
        # The fine pass's own candidates: fainter strokes count (they are only detected, not read as
        # they are); small glyphs only (the two smaller top-hats): bigger text survives the coarse pass.
        self.fine_candidates = replace(self.candidates, min_contrast=max(1, self.candidates.min_contrast * 2 // 3),
                                       kernels=tuple(sorted(self.candidates.kernels)[:2]))
        self.detector = TextDetector(device=self.device, threads=n, settings=detector or STRATEGY_DETECTOR[strategy])
        self.recognizer = TextRecognizer(device=self.device, threads=n)

    def detect_boxes(self, grey: np.ndarray, *, patches: list[BBox] | None = None) -> tuple[list[BBox], list[BBox]]:
        """``(detector boxes, direct boxes)`` of ``grey`` (uint8 ``(H, W)``) in its pixel coordinates.

        ``patches``: the frame's :func:`~ufmclean.ocr.direct.label_patches`, when already found.
        """
        h, w = grey.shape
        lines = text_lines(grey, settings=self.candidates)
        full = detector_scale((h, w), self.detector.settings)
        coarse = detector_scale((h, w), self.detector.settings, coarse=True)
        faint = None if lines is None or coarse >= full else text_lines(grey, settings=self.fine_candidates)
        if faint is None:
            # One pass; a frame too busy for candidates (CT/MR overlays, screens) at full detail.
            found = self.detector.detect(grey, scale=full)
            if lines is not None and self.strategy == "fast":
                found += self._faint_lines(grey, lines, self._margined(found, h, w))
            boxes = self._margined(found, h, w)
        else:
            # Faint lines of several glyphs only: lone faint components are mostly tissue texture.
            assert lines is not None  # faint is only looked for where lines were found
            extra = [ln for ln in faint if ln.width >= 3 * ln.height and ln.height * coarse < self.fine_below
                     and not is_found(ln, lines)]
            boxes = self._margined(self._two_scale(grey, lines + extra, coarse), h, w)
        whole = []
        if self.strategy == "full" and h <= 96 and w >= h:
            # A crop of one line (the residual check's): read it whole too, whatever the detector says.
            whole = [BBox(0, 0, w, h)]
        if not lines:  # None: too busy for candidates; the detector has read the whole frame anyway
            return boxes, whole
        return boxes, whole + direct_candidates(grey, lines, boxes, settings=self.candidates,
                                                max_height=self.direct_max_height, patches=patches)

    def _faint_lines(self, grey: np.ndarray, lines: list[BBox], boxes: list[BBox]) -> list[BBox]:
        """Detector boxes, from a contrast-stretched mosaic, of the multi-glyph candidate lines (at
        the fainter ``fine_candidates`` contrast too) that the one full pass's ``boxes`` left uncovered.

        White 11 px text on a 225 background, or white text on bright bone, is below the detector's
        contrast at the frame's own scale but plain once its crop is stretched (2 of the 3 lines of
        64 that one pass missed on the 512² bench images).
        """
        faint = text_lines(grey, settings=self.fine_candidates) or []
        several = [ln for ln in lines if ln.width >= 3 * ln.height]
        # A faint line counts unless a line that counts covers it: white '45Y M' on a 213-240
        # background was a 2.86:1 line at the candidates' contrast, 3.5:1 at the fainter one.
        several += [f for f in faint if f.width >= 3 * f.height and not is_found(f, several)]
        return self._in_mosaic(grey, uncovered(several, boxes) + cut_short(lines + faint, boxes))

    def _two_scale(self, grey: np.ndarray, lines: list[BBox], coarse: float) -> list[BBox]:
        """Detector boxes of ``grey`` from a coarse pass at ``coarse`` and a fine mosaic pass.

        ``lines``: candidate lines at the fainter ``fine_candidates`` contrast (the downscale
        blurs thin low-contrast strokes away: 14 px white text on a 230 background reached neither
        pass at the candidates' own contrast). The mosaic, each crop contrast-stretched, holds the
        lines the coarse boxes leave uncovered and the coarse
        boxes of text under ``fine_below`` detector px (boxed loosely at that size: 'Renal' on an
        ultrasound screen came back as a box that read '*R'). A small coarse box is replaced by
        the fine boxes found in its crop, and kept where the fine pass found none there.
        """
        h, w = grey.shape
        found = self.detector.detect(grey, scale=coarse)
        small = [b for b in found if b.height * coarse < self.fine_below]
        kept = [b for b in found if b.height * coarse >= self.fine_below]
        coarse_boxes = self._margined(found, h, w)
        missed = uncovered(lines, coarse_boxes) + cut_short(lines, coarse_boxes)
        fine = self._in_mosaic(grey, missed + small)
        kept += [b for b in small if not any(f.intersection(b) > 0 for f in fine)]
        return kept + fine

    def _in_mosaic(self, grey: np.ndarray, lines: list[BBox]) -> list[BBox]:
        """Detector boxes (frame coordinates) of ``lines`` of ``grey``, each cropped at its own scale
        and contrast-stretched in one mosaic (:func:`~ufmclean.ocr.fast.detect_in_mosaic`)."""
        crops = plan_crops(grey, settings=self.candidates, lines=lines) or []
        detect = lambda canvas: self.detector.detect(canvas, scale=1.0)  # noqa: E731
        found = detect_in_mosaic(grey, crops, detect, settings=self.candidates)
        # A line taller than the text it holds (merged with a blob beside it) is shrunk too far to be
        # detected: a downscaled crop left without a box is tried once more at a larger scale.
        retry = [Crop(c.box, min(1.0, c.scale * self.shrunk_retry)) for c in crops
                 if c.scale < 1.0 and not any(b.intersection(c.box) > 0 for b in found)]
        return found + detect_in_mosaic(grey, retry, detect, settings=self.candidates)

    def _margined(self, boxes: list[BBox], height: int, width: int) -> list[BBox]:
        """Detector boxes grown by a fifth of their height, duplicates dropped.

        DB boxes hug small glyphs; the margin gives the recogniser the context it was trained with
        (a lone tight 'L' reads as '?') and redaction the glyph's rim.
        """
        return drop_duplicates([b.pad(max(2, round(self.box_margin * b.height)), height=height, width=width)
                                for b in boxes])

    def read(self, image: np.ndarray) -> list[TextRegion]:
        """Read text from ``image`` (uint8 ``(H, W)`` or ``(H, W, 3)``); boxes in its pixel coordinates."""
        grey = check_image(image)
        patches = label_patches(grey, settings=self.candidates)
        boxes, direct = self.detect_boxes(grey, patches=patches)
        if not boxes and not direct and not patches:
            return []
        out = self._recognised(grey, boxes, direct)
        return out + self._read_patches(grey, patches, out)

    def read_regions(self, image: np.ndarray, regions: list[BBox], *, known: list[BBox] | None = None) -> list[TextRegion]:
        """Read only the text inside ``regions`` (boxes in ``image``'s pixels), with no whole-frame pass.

        For views that are flat outside a few regions (the values a window clips,
        :data:`ufmclean.io.display.HIDDEN_VIEWS`): each region's candidate lines (also the fainter
        multi-glyph ones), label patches and letter fragments are found in its crop, and all of them
        are detected in one mosaic and recognised together, as the fine pass of :meth:`read` does. A
        region whose grey levels span less than the fainter candidates' contrast is skipped (nothing
        there can become a candidate); one too busy for candidates, or covering ``whole_region`` of the
        frame or more, is read whole (:meth:`read` on its crop: its coarse pass boxes the big text
        and leaves fewer lines to the mosaic). ``known``: boxes of
        text already read there (in another view); candidate lines they cover are not read again.
        ``image``: uint8 ``(H, W)`` or ``(H, W, 3)``; returned boxes in its pixel coordinates.
        """
        grey = check_image(image)
        h, w = grey.shape
        lines: list[BBox] = []
        patches: list[BBox] = []
        fragments: list[BBox] = []
        out: list[TextRegion] = []
        for region in (r.clip(h, w) for r in regions):
            if region.area == 0:
                continue
            crop = np.ascontiguousarray(grey[region.slices])
            if int(crop.max()) - int(crop.min()) < self.fine_candidates.min_contrast:
                continue  # no stroke, label or fragment can reach the candidates' contrast here
            found = None if region.area >= self.whole_region * h * w else text_lines(crop, settings=self.candidates)
            if found is None:
                out += [TextRegion(t.bbox.translate(region.x0, region.y0), t.text, t.confidence) for t in self.read(crop)]
                continue
            faint = text_lines(crop, settings=self.fine_candidates) or []
            found += [f for f in faint if f.width >= 3 * f.height and not is_found(f, found)]
            lines += uncovered([b.translate(region.x0, region.y0) for b in found], known or [])
            patches += [b.translate(region.x0, region.y0) for b in label_patches(crop, settings=self.candidates)]
            fragments += [b.translate(region.x0, region.y0) for b in fragment_letters(crop, settings=self.candidates)]
        if not lines and not patches and not fragments:
            return out
        boxes = self._margined(self._in_mosaic(grey, lines), h, w) if lines else []
        direct = direct_candidates(grey, lines, boxes, settings=self.candidates, max_height=self.direct_max_height,
                                   patches=patches, fragments=fragments)
        read = self._recognised(grey, boxes, direct)
        return out + read + self._read_patches(grey, patches, read)

    def _recognised(self, grey: np.ndarray, boxes: list[BBox], direct: list[BBox]) -> list[TextRegion]:
        """Recognised text of detector ``boxes`` and ``direct`` candidates of ``grey``, each held to its floor."""
        every = boxes + direct
        reads = self.recognizer.recognize(grey, every) if every else []
        out = []
        for i, (box, (text, conf)) in enumerate(zip(every, reads)):
            text = latin_digits(text.strip())
            floor = self.min_confidence if i < len(boxes) else self.direct_min_confidence
            if text and conf >= floor:
                out.append(TextRegion(box, text, conf))
        return out

    def _read_patches(self, grey: np.ndarray, patches: list[BBox], read: list[TextRegion]) -> list[TextRegion]:
        """Each dark-on-light label patch read on its own, framed by its own edge.

        A detector box over a small label also holds the dark surround, and the patch padded
        within the frame holds its rim: both can read as nothing or a stray glyph ('L' as '4'). The
        patch alone, with 2 px of its border replicated, reads as it looks. Added where no read
        already gives the same text over the patch.
        """
        import cv2

        out = []
        for p in patches:
            crop = cv2.copyMakeBorder(np.ascontiguousarray(grey[p.slices]), 2, 2, 2, 2, cv2.BORDER_REPLICATE)
            ((text, conf),) = self.recognizer.recognize(crop, [BBox(0, 0, crop.shape[1], crop.shape[0])])
            text = latin_digits(text.strip())
            if not text or conf < self.direct_min_confidence:
                continue
            if is_found(p, [r.bbox for r in read if r.text.replace(" ", "") == text.replace(" ", "")]):
                continue
            out.append(TextRegion(p, text, conf))
        return out


def latin_digits(text: str) -> str:
    """Undo the recogniser's 0-for-O slip inside words: in a token of 3+ letters whose only digits
    are '0', those are the letter 'O' ('HELL0' -> 'HELLO', 'D0E' -> 'DOE'); IDs and dates, which are
    mostly digits, are left alone."""
    out = []
    for token in text.split(" "):
        letters = sum(c.isalpha() for c in token)
        digits = {c for c in token if c.isdigit()}
        if letters >= 2 and digits == {"0"} and letters > token.count("0"):
            token = token.replace("0", "O")
        out.append(token)
    return " ".join(out)


def _resolve_device(device: str) -> str:
    """``auto|cpu|cuda`` → the ONNX Runtime device used; ``cuda`` without its provider is a ValueError."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be one of auto, cpu, cuda, got {device!r}")
    import onnxruntime as ort

    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if device == "cuda" and not has_cuda:
        raise ValueError("device 'cuda' was asked for but onnxruntime has no CUDA provider "
                         "(install onnxruntime-gpu); use --device cpu or auto")
    return "cuda" if device == "cuda" or (device == "auto" and has_cuda) else "cpu"
