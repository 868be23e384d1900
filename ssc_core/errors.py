"""Exceptions of the core.

Every message is written for the person at the workstation: it says what is wrong with *their* input and,
where possible, what to do about it. The GUI shows ``str(error)`` as it is; ``error.hint`` (if any) is shown
beneath it. Patient identifiers never appear in a message.
"""

from __future__ import annotations


class SSCError(Exception):
    """Base class of all errors raised on purpose by the core."""

    #: A short suggestion of what the user can do, shown below the message.
    hint: str = ""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class Cancelled(SSCError):
    """Long work was cancelled by the user."""

    def __init__(self, message: str = "Cancelled by the user.") -> None:
        super().__init__(message)


# --- imaging -----------------------------------------------------------------------------------------


class LoadError(SSCError):
    """A scan could not be opened. Subclasses name the reason."""

    hint = "Check that the path holds a complete CT series exported from the scanner or PACS."


class NoImagesFound(LoadError):
    """The path holds no readable CT image."""


class NotAFileOrFolder(LoadError):
    """The path does not exist or is neither a file nor a folder."""


class UnsupportedFormat(LoadError):
    """The file type is not one the workstation reads."""

    hint = "Supported: DICOM series, MHA/MHD, NIfTI (.nii, .nii.gz) and NRRD."


class CorruptFile(LoadError):
    """A file is damaged or truncated, or its header contradicts itself."""

    hint = "Re-export the series from the scanner or PACS; the file on disk is damaged."


class UnsupportedTransferSyntax(LoadError):
    """The pixel data are compressed with a method the workstation cannot decode."""

    hint = "Re-export the series uncompressed (Explicit VR Little Endian) or with JPEG-LS/JPEG 2000."


class ImplausibleHeader(LoadError):
    """The header claims a size or value that no CT can have (refused before any allocation)."""


class NonAxialAcquisition(LoadError):
    """The series is coronal, sagittal or oblique; Goh scoring needs axial slices."""

    hint = "Choose the axial series of the examination (scoring is defined on axial slices)."


class InconsistentGeometry(LoadError):
    """Slices do not form one regular volume: different orientations or matrix sizes in one series."""


class MissingSlices(LoadError):
    """A gap in the slice positions (over 1.5 times the usual spacing): slices are missing."""

    hint = "Re-export the complete series; some slices were not transferred."


class OverlappingSlices(LoadError):
    """Slice positions overlap irregularly (not a regular reconstruction)."""


class GantryTilt(LoadError):
    """The slices were acquired with a gantry tilt the workstation does not correct."""


class ImplausibleHU(LoadError):
    """The pixel values after rescale are not plausible Hounsfield units for a CT."""


class NotCT(LoadError):
    """The series is not a CT image (another modality, a localizer, a secondary capture)."""


class SeriesNotFound(LoadError):
    """The chosen series is not in the folder."""


class UnsupportedMultiFrame(LoadError):
    """A multi-frame file whose frames cannot be placed in space (no per-frame positions, concatenations)."""

    hint = "Export the series as single-frame CT images (one file per slice) from the scanner or PACS."


# --- scoring and study ---------------------------------------------------------------------------------


class ScoreRuleError(SSCError):
    """Scores or level placements break a rule (grid, range, union rule, level order)."""


class StudyError(SSCError):
    """A study file could not be used as asked."""


class StudyCorrupt(StudyError):
    """The study file is damaged, not a study file, or from a newer version."""


class StudyLocked(StudyError):
    """Another workstation instance is writing to this study file."""


class ProtocolError(StudyError):
    """The action breaks the reader-study protocol (blinding, washout, lock after submit)."""


class PermissionDenied(StudyError):
    """The action needs the admin role."""


class ImportFormatError(SSCError):
    """An imported table or JSON file has the wrong shape; the message names the row and field."""


class AuditChainBroken(StudyError):
    """The audit log's hash chain does not verify: a row was changed or deleted after it was written."""


class StudyOnNetworkDrive(StudyError):
    """The study file lies on a network file system, where SQLite's locking and WAL are not reliable."""

    hint = "Copy the study file to a local disk, work there, and copy it back (or keep backups there)."


# --- analysis and export -------------------------------------------------------------------------------


class AnalysisError(SSCError):
    """A statistic or report was asked of data that cannot give it (unknown rater, malformed table)."""


class ExportError(SSCError):
    """An export could not be written; the previous file, if any, is left as it was."""

    hint = "Choose a folder you can write to, with enough free space, and export again."


# --- AI ------------------------------------------------------------------------------------------------


class BundleError(SSCError):
    """A model bundle is missing, tampered, truncated or does not match its spec."""

    hint = "Load an intact model bundle (its folder with spec.json and the .safetensors weights)."


class InferenceError(SSCError):
    """The AI cascade failed on this scan (the reason is in the message); scoring is unaffected."""


class TrainingDataError(SSCError):
    """Training input is unusable; the message lists each bad row or case."""


class CheckpointError(SSCError):
    """A training checkpoint is missing, damaged or belongs to another run."""

    hint = "Start the training again without --resume (or with --restart)."


# --- output --------------------------------------------------------------------------------------------


class OutputNotEmpty(SSCError):
    """Writing would overwrite files already in the chosen output folder."""

    hint = "Choose an empty or new folder, or allow overwriting explicitly."
