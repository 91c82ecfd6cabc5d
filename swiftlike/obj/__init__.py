"""Object storage: the DiskFile contract, its backends and the object server."""
