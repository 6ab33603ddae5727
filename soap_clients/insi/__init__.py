"""INSi teleservice: our WSDL/XSD (package data), the zeep client, the mock (`.mock`)."""

from soap_clients.insi.client import InsiClient, InsiClientConfig, given_name_sequence
from soap_clients.insi.errors import (
    InsiError,
    InsiFault,
    InsiProtocolError,
    InsiTimeout,
    InsiUnavailable,
)
from soap_clients.insi.models import (
    InsiAttempt,
    InsIdentifier,
    InsiResult,
    InsiSearchOutcome,
    InsTraits,
)

__all__ = [
    "InsIdentifier",
    "InsTraits",
    "InsiAttempt",
    "InsiClient",
    "InsiClientConfig",
    "InsiError",
    "InsiFault",
    "InsiProtocolError",
    "InsiResult",
    "InsiSearchOutcome",
    "InsiTimeout",
    "InsiUnavailable",
    "given_name_sequence",
]
