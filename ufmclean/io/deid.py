"""DICOM header de-identification: the PS3.15 Basic Application Level Confidentiality Profile via dicognito.

dicognito (maintained, on PyPI) replaces every PN, UI (except class and transfer syntax UIDs), ID and
address element with pseudonyms and shifts dates and times by one offset, all derived from a seed:
the same patient name, ID or Study Instance UID maps to the same value in every file and process
that uses the same seed. The seed is a per-run secret (``RUN/pseudonym.key``, 0600; see
:func:`run_secret`), so a rerun or resume writes byte-identical files, while another run folder gets
other pseudonyms. dicognito keeps free text and private elements the Basic Profile removes; those are
deleted here first (:data:`REMOVED`, private groups, overlay text). The result is recorded in
PatientIdentityRemoved, DeidentificationMethod and DeidentificationMethodCodeSequence (CID 7050).

Header values are PHI: nothing here logs or returns them.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ufmclean.errors import WriteError

__all__ = ["REMOVED", "HeaderDeidentifier", "keeps_identifying", "run_secret"]

#: CID 7050 codes (DCM) this module records.
BASIC_PROFILE = ("113100", "Basic Application Confidentiality Profile")
MODIFIED_DATES = ("113107", "Retain Longitudinal Temporal Information Modified Dates Option")

#: Basic Profile X/Z attributes (free text, request and identification sequences, device serials)
#: that dicognito leaves in place; removed before it runs. Unknown keywords are ignored.
REMOVED = (
    "AcquisitionComments", "AdditionalPatientHistory", "AdmissionID", "AdmittingDiagnosesCodeSequence",
    "AdmittingDiagnosesDescription", "Allergies", "CommentsOnThePerformedProcedureStep", "ContentSequence",
    "ContrastAllergies", "DerivationDescription", "DetectorID", "DeviceSerialNumber", "DigitalSignaturesSequence",
    "DischargeDiagnosisDescription", "EthnicGroup", "FrameComments", "GantryID", "IdentifyingComments", "ImageComments",
    "ImagingServiceRequestComments", "InterpretationText", "IssuerOfAdmissionID", "IssuerOfPatientID",
    "MACParametersSequence", "MedicalAlerts", "ModifiedAttributesSequence", "OperatorIdentificationSequence",
    "OriginalAttributesSequence", "OtherPatientIDsSequence", "PatientAge", "PatientComments",
    "PatientPrimaryLanguageCodeSequence", "PatientSexNeutered", "PatientSize", "PatientState", "PatientWeight",
    "PerformedLocation", "PerformedProcedureStepDescription", "PerformedStationAETitle", "PerformedStationName",
    "PerformingPhysicianIdentificationSequence", "PersonAddress", "PersonTelephoneNumbers",
    "PhysiciansOfRecordIdentificationSequence", "PlateID", "PregnancyStatus", "ReasonForStudy",
    "ReasonForTheRequestedProcedure", "ReferencedPatientSequence", "ReferencedStudySequence",
    "ReferringPhysicianAddress", "ReferringPhysicianIdentificationSequence", "ReferringPhysicianTelephoneNumbers",
    "RequestAttributesSequence", "RequestedContrastAgent", "RequestedProcedureComments",
    "RequestedProcedureDescription", "RequestingPhysicianIdentificationSequence", "ResultsComments",
    "ScheduledProcedureStepDescription", "ScheduledStationAETitle", "ScheduledStationName", "ScheduledStudyLocation",
    "ScheduledStudyLocationAETitle", "SeriesDescription", "ServiceEpisodeDescription", "ServiceEpisodeID",
    "SmokingStatus", "SpecialNeeds", "StudyComments", "StudyDescription", "StudyIDIssuer", "TextComments",
    "TextString", "VisitComments",
)
#: Of :data:`REMOVED`, those some IODs require (Type 1 in enhanced equipment, profile action D):
#: replaced by a dummy, not deleted, so the written file stays valid (checked with dciodvfy).
DUMMIES = {"DeviceSerialNumber": "DEIDENTIFIED"}
_OVERLAY_TEXT = (0x0022, 0x1500, 0x4000)  # OverlayDescription, OverlayLabel, OverlayComments
#: Elements whose presence (non-empty) means a kept header still identifies someone.
_IDENTIFYING = ("PatientName", "PatientID", "PatientBirthDate", "PatientAddress", "OtherPatientIDs",
                "OtherPatientNames", "ReferringPhysicianName", "AccessionNumber", "InstitutionName",
                "PatientTelephoneNumbers", "ImageComments")


def run_secret(path: str | os.PathLike[str]) -> str:
    """The run's pseudonym secret stored at ``path`` (created 0600 on first use; 64 hex chars).

    Created without a race: written to a private temporary name and hard-linked into place, so two
    workers starting together both end up reading the same secret. Raises :class:`WriteError`
    when the file cannot be created or holds something else.
    """
    p = Path(path)
    if not p.exists():
        tmp = p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32))
                fh.flush()
                os.fsync(fh.fileno())
            with contextlib.suppress(FileExistsError):  # another worker won: use its secret
                os.link(tmp, p)
        except OSError as exc:
            raise WriteError(f"cannot create the run's pseudonym key {p.name} ({exc.strerror or type(exc).__name__})") from None
        finally:
            tmp.unlink(missing_ok=True)
    text = p.read_text(encoding="ascii", errors="replace").strip()
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise WriteError(f"the run's pseudonym key {p.name} is damaged; restore it (or remove it to get new pseudonyms)")
    return text


def _remove(ds: Any, el: Any, tags: set[int], dummies: dict[int, str]) -> None:
    if el.tag in dummies:
        el.value = dummies[el.tag]
    elif el.tag in tags:
        del ds[el.tag]


@lru_cache(maxsize=4)
def _anonymizer(secret: str) -> Any:
    from dicognito.anonymizer import Anonymizer

    return Anonymizer(seed=secret)


def _version(dist: str) -> str:
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:
        return "dev"


@dataclass(frozen=True, slots=True)
class HeaderDeidentifier:
    """Applies the Basic Profile with the pseudonyms of one run (``secret``: from :func:`run_secret`)."""

    secret: str

    def apply(self, ds: Any) -> None:
        """De-identify ``ds`` (a pydicom FileDataset) in place; PixelData bytes are not touched."""
        import pydicom

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # warnings may quote values
            ds.remove_private_tags()
            tags = {t for k in REMOVED if (t := pydicom.datadict.tag_for_keyword(k)) is not None}
            tags |= {(g << 16) | e for g in range(0x6000, 0x6020, 2) for e in _OVERLAY_TEXT}
            dummies = {t: v for k, v in DUMMIES.items() if (t := pydicom.datadict.tag_for_keyword(k)) is not None}
            ds.walk(lambda d, el: _remove(d, el, tags, dummies))
            try:
                _anonymizer(self.secret).anonymize(ds)
            except Exception as exc:
                raise WriteError(f"DICOM header could not be de-identified ({type(exc).__name__})") from None

    def mark(self, ds: Any) -> None:
        """Record the de-identification in ``ds``: PatientIdentityRemoved, DeidentificationMethod and
        the 113100 (+113107, dates shifted) code entries. Pixel cleaning is recorded by the writer."""
        from pydicom.dataset import Dataset
        from pydicom.multival import MultiValue
        from pydicom.sequence import Sequence

        ds.PatientIdentityRemoved = "YES"
        ds.LongitudinalTemporalInformationModified = "MODIFIED"
        text = f"ufmclean {_version('ufmclean')}: PS3.15 Basic Profile, dicognito {_version('dicognito')}"[:64]
        old = ds.get("DeidentificationMethod")
        values = [str(v) for v in old] if isinstance(old, (list, MultiValue)) else ([str(old)] if old else [])
        values = [v for v in values if v != "DICOGNITO"]  # dicognito's own entry: ours names it
        ds.DeidentificationMethod = [*values, text] if values else text
        seq = ds.get("DeidentificationMethodCodeSequence") or Sequence()
        for value, meaning in (BASIC_PROFILE, MODIFIED_DATES):
            item = Dataset()
            item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
            seq.append(item)
        ds.DeidentificationMethodCodeSequence = seq


def keeps_identifying(ds: Any) -> bool:
    """Whether a (kept) header still holds identifying elements: a non-empty patient name, ID, birth
    date, address, physician, accession, institution or comment, or any private element."""
    for kw in _IDENTIFYING:
        el = ds.get(kw)
        if el not in (None, "") and str(el).strip():
            return True
    return any(el.tag.is_private for el in ds.iterall())


def deidentify_copy(source: str | os.PathLike[str], dest: str | os.PathLike[str], deid: HeaderDeidentifier) -> bool:
    """Write ``source`` (an unchanged DICOM) to ``dest`` with a de-identified header; ``True`` when written.

    The pixel data and transfer syntax are kept byte for byte (checked on the written file before
    it is renamed into place). ``False`` (nothing written) for retired Explicit VR Big Endian, which
    the caller rewrites through :func:`ufmclean.io.write.write_image`. Raises :class:`WriteError` /
    :class:`LoadError` without header values.
    """
    from ufmclean.io.atomic import atomic_output
    from ufmclean.io.dicom import read_dataset

    ds = read_dataset(str(source))
    if str(ds.file_meta.get("TransferSyntaxUID", "")) == "1.2.840.10008.1.2.2":
        return False
    before = ds.get("PixelData")
    deid.apply(ds)
    deid.mark(ds)
    with atomic_output(Path(dest), mode=0o644) as tmp:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ds.save_as(tmp, enforce_file_format=True)
        except Exception as exc:
            raise WriteError(f"DICOM could not be written ({type(exc).__name__}); the source header may be incomplete") from None
        back = read_dataset(str(tmp))
        if back.get("PixelData") != before or str(back.file_meta.TransferSyntaxUID) != str(ds.file_meta.TransferSyntaxUID):
            raise WriteError("DICOM with a de-identified header does not keep the same pixel data; not written")
    return True
