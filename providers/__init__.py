"""Accounting-service adapters and their registry (the capability matrix is built from it)."""

from .base import FEATURES, Provider
from .fakturownia import FakturowniaProvider
from .fakturowo import FakturowoProvider
from .firmao import FirmaoProvider
from .ifirma import IfirmaProvider
from .infakt import InfaktProvider
from .wfirma import WfirmaProvider

PROVIDERS: dict[str, type[Provider]] = {
    cls.key: cls
    for cls in (
        FakturowniaProvider,
        FakturowoProvider,
        FirmaoProvider,
        IfirmaProvider,
        InfaktProvider,
        WfirmaProvider,
    )
}


def get_provider(key: str) -> type[Provider]:
    """The adapter class for a service key; KeyError names the known keys."""
    try:
        return PROVIDERS[key]
    except KeyError:
        raise KeyError(f"Unknown provider {key!r}; known: {', '.join(PROVIDERS)}") from None


__all__ = ["FEATURES", "PROVIDERS", "Provider", "get_provider"]
