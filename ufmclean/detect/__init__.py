"""Per-image detectors that turn a LoadedImage into Findings (text, markers, overlays)."""
