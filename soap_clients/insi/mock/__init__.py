"""Mock INSi teleservice speaking the real contract, so Socle runs offline."""

from soap_clients.insi.mock.app import MockStats, create_mock_app, mount_mock, served_wsdl
from soap_clients.insi.mock.config import ACCEPTED_CLIENT_CNS, MockConfig
from soap_clients.insi.mock.personas import PERSONAS
from soap_clients.insi.mock.population import InsRecord, Person, Population, nir_key, normalise
from soap_clients.insi.mock.population_file import PopulationFileError, load_population_file
from soap_clients.insi.mock.runner import run_mock

__all__ = [
    "ACCEPTED_CLIENT_CNS",
    "PERSONAS",
    "InsRecord",
    "MockConfig",
    "MockStats",
    "Person",
    "Population",
    "PopulationFileError",
    "create_mock_app",
    "load_population_file",
    "mount_mock",
    "nir_key",
    "normalise",
    "run_mock",
    "served_wsdl",
]
