"""Exceptions raised by ufmclean stages.

Every error message names the file's problem and, where there is one, the fix (e.g. which package
to install). Stages catch :class:`UfmError` per file, record ``str(exc)`` in the run tables and go on.
Messages never contain recognised text or header values (those are PHI).
"""


class UfmError(Exception):
    """Base class of all ufmclean errors."""


class LoadError(UfmError):
    """A file could not be read or decoded into pixels."""


class MissingCodecError(LoadError):
    """Pixel data is compressed with a transfer syntax no installed plug-in can decode."""


class NotAnImageError(LoadError):
    """A readable file that holds no image (a DICOMDIR, Structured Report, RT structure set...): skipped, not an error."""


class DecompressionBombError(LoadError):
    """Declared image size exceeds the configured ``max_pixels`` guard."""


class WriteError(UfmError):
    """A sanitised file could not be written."""


class UsageError(UfmError):
    """Bad arguments or settings given by the user (CLI exit code 2)."""
