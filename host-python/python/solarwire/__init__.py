"""The solarwire core (`solarwire.solarwire`, native) re-exported, beside
`solarwire.client`, the HTTP client of a solarwire server."""

from . import solarwire as _native
from .solarwire import *  # noqa: F403

__doc__ = _native.__doc__
__all__ = _native.__all__
