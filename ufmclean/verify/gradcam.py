"""Grad-CAM (pytorch-grad-cam) of a probe on evaluation images with a feature pasted, saved as PNGs.

The strips are built from original pixels: patients' images with a removed feature (a burned-in name,
an ID) pasted from another patient's original. They are PHI: written 0600 in a 0700 folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ufmclean.io.atomic import atomic_write_bytes

from ufmclean.verify.features import Feature
from ufmclean.verify.models import gradcam_target_layer
from ufmclean.verify.mscore import paste
from ufmclean.verify.train import TrainedProbe

#: Grad-CAM strips show original pixels (and the removed features): owner only.
GRADCAM_MODE = 0o600
GRADCAM_DIR_MODE = 0o700


def gradcam_maps(probe: TrainedProbe, model_name: str, images: np.ndarray, *, target: int) -> np.ndarray:
    """Grad-CAM maps ``(N, S, S)`` in [0, 1] for class ``target`` on ``images`` ``(N, S, S)`` in [0, 1]."""
    import torch
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    x = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1).to(probe.device)
    layer = gradcam_target_layer(probe.model, model_name)
    with GradCAM(model=probe.model, target_layers=[layer]) as cam:
        maps = cam(input_tensor=x, targets=[ClassifierOutputTarget(target)] * len(x))
    return np.asarray(maps, dtype=np.float32)


def save_gradcam_png(
    probe: TrainedProbe, model_name: str, images: np.ndarray, feature: Feature, *, target: int, dest: str | Path,
    scale: int = 4,
) -> Path:
    """Paste ``feature`` into ``images`` ``(n, S, S)``, compute Grad-CAM for ``target`` and write one PNG strip
    (image with the feature's box outlined, heat map overlaid) to ``dest`` atomically."""
    import cv2
    from pytorch_grad_cam.utils.image import show_cam_on_image

    pasted = paste(images, feature.patch, feature.mask, feature.probe_box)
    maps = gradcam_maps(probe, model_name, pasted, target=target)
    tiles = []
    for img, m in zip(pasted, maps):
        rgb = np.repeat(img[..., None], 3, axis=2).astype(np.float32)
        over = show_cam_on_image(rgb, m, use_rgb=False, image_weight=0.6)
        big = cv2.resize(over, None, fx=scale, fy=scale, interpolation=cv2.INTER_NEAREST)
        b = feature.probe_box
        cv2.rectangle(big, (b.x0 * scale, b.y0 * scale), (b.x1 * scale - 1, b.y1 * scale - 1), (0, 255, 0), 1)
        tiles.append(big)
    strip = np.concatenate(tiles, axis=1)
    ok, buf = cv2.imencode(".png", strip)
    if not ok:
        raise RuntimeError("PNG encoding of a Grad-CAM strip failed")
    return atomic_write_bytes(Path(dest), buf.tobytes(), mode=GRADCAM_MODE)


def gradcam_for_run(artefacts: dict, out_dir: str | Path, *, model_name: str, n_images: int = 4,
                    max_features: int = 10) -> list[str]:
    """Grad-CAM strips for the seed-0 before/after probes of a verify run (``artefacts`` from ``run_verify``).

    For each feature (at most ``max_features``), ``n_images`` held-out images of its class ``y*`` (any
    class when unknown), target ``y*`` (else the class the before-probe predicts most). Returns PNG paths.
    """
    import re

    images, labels = artefacts["eval_images"], artefacts["eval_labels"]
    probes = artefacts["probes"]
    paths: list[str] = []
    if n_images < 1 or len(images) == 0:
        return paths
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(GRADCAM_DIR_MODE)  # an existing folder too: it is about to hold PHI
    for f in artefacts["features"][:max_features]:
        sel = np.flatnonzero(labels == f.y_star) if f.y_star is not None else np.arange(len(images))
        sel = sel[:n_images] if len(sel) else np.arange(min(n_images, len(images)))
        target = f.y_star
        if target is None:
            from ufmclean.verify.train import predict_proba

            target = int(predict_proba(probes["before"], images[sel]).mean(0).argmax())
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", f.feature_id)[:64]
        for phase in ("before", "after"):
            dest = Path(out_dir) / f"{safe}_{phase}.png"
            paths.append(str(save_gradcam_png(probes[phase], model_name, images[sel], f, target=target, dest=dest)))
    return paths
