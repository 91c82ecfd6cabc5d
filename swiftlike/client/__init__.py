"""The swiftlike client binding (python-swiftclient-shaped) and the `swiftlike` command line."""
from swiftlike.client.connection import Connection
from swiftlike.client.exceptions import ClientException, InvalidURL

__all__ = ['Connection', 'ClientException', 'InvalidURL']
