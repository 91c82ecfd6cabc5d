"""swiftlike: an object storage cluster speaking the OpenStack Swift v1 API."""
__version__ = '0.1.0'
