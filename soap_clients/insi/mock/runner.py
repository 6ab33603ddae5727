"""Running the mock teleservice on its own (`socle mock-insi`)."""

from __future__ import annotations

import uvicorn

from soap_clients.insi.mock.app import create_mock_app
from soap_clients.insi.mock.config import MockConfig


def run_mock(
    config: MockConfig, host: str = "127.0.0.1", port: int = 8089, log_level: str | None = "info"
) -> None:
    """Serve the mock on http://host:port/ until interrupted (WSDL at /?wsdl).

    ``log_level``: uvicorn's, its access log included (one INFO line per SOAP call).
    """
    uvicorn.run(create_mock_app(config), host=host, port=port, log_level=log_level)
