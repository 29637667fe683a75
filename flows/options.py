"""Flow parameters (pydantic models shown as forms in the Prefect UI) and the task-runner choice.

No postponed annotations (PEP 563 future import) here: Prefect builds the deployments' parameter schemas
from these annotations at run time, and postponed annotations break that for module-path entrypoints.
"""

import os
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field

from ufmclean.devices import Device
from ufmclean.pipeline.sanitize import HeaderMode, SanitizeOptions
from ufmclean.pipeline.workers import threads_per_worker
from ufmclean.verify.run import VerifyOptions

#: Environment variable naming the default task runner ("threads", "dask" or a scheduler address).
RUNNER_ENV = "UFMCLEAN_TASK_RUNNER"
#: Environment variable giving the default number of workers (threads or Dask worker processes).
WORKERS_ENV = "UFMCLEAN_WORKERS"

# The choices and defaults are the library's (Device, HeaderMode, the options dataclasses); the engine,
# strategy and action Literals are spelled here, and tests/test_options_once.py checks that they agree.
Action = Literal["inpaint", "mask", "flag"]
_SAN = SanitizeOptions()


class SanitizeSettings(BaseModel):
    """Policy and OCR options of a sanitize run. ``None`` means the library default (or the policy file's);
    for the scan settings (engine, strategy, markers, batch size, max_pixels, labels) it means the setting the
    run folder's last scan used, and a given value that differs from it is refused unless ``rescan``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_file: Optional[str] = Field(None, description="Policy TOML file (see `ufmclean sanitize --show-policy`).")
    device: Device = Field(_SAN.device, description="OCR device for the scan and the residual check.")
    batch_size: Optional[int] = Field(None, ge=1, le=4096, description="Images per batch task (scan and sanitize); "
                                      "default: the run's scan's, else 16.")
    engine: Optional[Literal["ppocr", "easyocr"]] = Field(None, description="OCR engine for the scan and the residual "
                                                          "check; default: the run's scan's, else ppocr.")
    max_pixels: Optional[int] = Field(None, ge=1, description="Refuse images declaring more values than this.")
    rescan: bool = Field(False, description="Accept a new scan when a scan setting given here differs from the run's scan.")
    strategy: Optional[Literal["fast", "full"]] = Field(None, description="Scan OCR strategy.")
    markers: Optional[bool] = Field(None, description="Detect non-text markers (stickers, rulers, pen marks).")
    residual_check: Optional[bool] = Field(None, description="Re-read each redacted region with OCR.")
    show_text: bool = Field(_SAN.show_text, description="Show recognised text unmasked in report.html (PHI; off by default).")
    labels_csv: Optional[str] = Field(None, description="CSV with relpath,label for the image table.")
    rename_phi_paths: bool = Field(_SAN.rename_phi_paths, description="Write clean copies whose file or folder names look like PHI "
                                   "under pseudonymous names (mapping in RUN/paths.parquet, 0600).")
    header: HeaderMode = Field(
        _SAN.header, description="DICOM headers: deidentify (PS3.15 Basic Profile, run-consistent pseudonyms) or keep.")
    keep_metadata: bool = Field(_SAN.keep_metadata, description="Copy unchanged PNG/JPEG/TIFF byte for byte (default: pixels only).")


_VERIFY = VerifyOptions()  # the verify settings' defaults are declared there, once


class VerifySettings(BaseModel):
    """Options of a verify run (the meanings of `ufmclean verify --help`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    labels_csv: Optional[str] = Field(None, description="CSV with path,label[,split]; else parent folder names.")
    seeds: int = Field(_VERIFY.seeds, ge=1, le=100, description="Number of probe seeds.")
    size: int = Field(_VERIFY.size, ge=16, le=512, description="Probe input size in pixels.")
    model: Literal["cnn", "resnet18"] = _VERIFY.model  # type: ignore[assignment]
    device: Device = "auto"
    epochs: int = Field(_VERIFY.epochs, ge=1, le=1000)
    lr: float = Field(_VERIFY.lr, gt=0.0, le=1.0, description="Peak learning rate (Adam).")
    schedule: Literal["onecycle", "constant"] = _VERIFY.schedule  # type: ignore[assignment]
    width: int = Field(_VERIFY.width, ge=1, le=256, description="Channels of the small CNN's first layer.")
    alpha: float = Field(_VERIFY.alpha, gt=0.0, lt=1.0, description="Significance threshold.")
    max_features: int = Field(_VERIFY.max_features, ge=0, le=100000, description="Score at most this many removed findings.")
    gradcam_images: int = Field(_VERIFY.gradcam_images, ge=0, le=64, description="Evaluation images per Grad-CAM strip (0: none).")
    ood_dir: Optional[str] = Field(None, description="Out-of-distribution images for the black-box setting.")
    max_accuracy_drop: float = Field(_VERIFY.max_accuracy_drop, ge=0.0, le=1.0, description="Largest held-out accuracy drop that still "
                                     "counts as utility kept for a 'mitigated' verdict.")
    recipe: Literal["default", "paper"] = Field(_VERIFY.recipe, description="default (the settings as given) | "  # type: ignore[arg-type]
                                                "paper (Hartley et al.: ResNet-18 at 224, Adam 1e-5, early stopping).")
    epoch_curve: bool = Field(_VERIFY.epoch_curve, description="Score every canary after each training epoch.")


def resolve_runner(runner: Optional[str], workers: Optional[int]) -> tuple[str, int]:
    """``(kind, workers)`` from the flow parameters, else ``$UFMCLEAN_TASK_RUNNER`` / ``$UFMCLEAN_WORKERS``.

    ``kind`` is ``"threads"``, ``"dask"`` (a local Dask cluster of ``workers`` processes) or a
    ``tcp://``/``tls://`` address of a running ``dask.distributed`` scheduler.
    """
    kind = (runner or os.environ.get(RUNNER_ENV) or "threads").strip()
    if kind not in ("threads", "dask") and "://" not in kind:
        raise ValueError(f"runner must be 'threads', 'dask' or a scheduler address like tcp://host:8786, not {kind!r}")
    if workers is None:
        env = os.environ.get(WORKERS_ENV, "").strip()
        try:
            workers = int(env) if env else 1
        except ValueError:
            raise ValueError(f"${WORKERS_ENV} must be an integer, not {env!r}") from None
    if workers < 1:
        raise ValueError("workers must be >= 1")
    return kind, workers


def make_task_runner(kind: str, workers: int) -> Any:
    """A Prefect task runner for the batch tasks (not started; use it as a context manager).

    Dask workers are single-threaded processes, so each loads its OCR model once
    (``ufmclean.ocr.get_engine`` caches per process) and batches never share an engine between threads.
    """
    if kind == "threads":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=workers)
    from prefect_dask import DaskTaskRunner

    if kind == "dask":
        # Share the cores between worker processes instead of each torch using all of them.
        threads = str(threads_per_worker(workers))
        return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                              cluster_kwargs={"n_workers": workers, "threads_per_worker": 1, "processes": True,
                                              "host": "127.0.0.1", "dashboard_address": None,
                                              "env": {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}})
    return DaskTaskRunner(address=kind)
