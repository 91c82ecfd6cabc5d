"""The all-in-one cluster: a whole swiftlike cluster in one data directory.

layout.py decides where things go (devices, ports) and remembers it,
configs.py writes the config files, rings.py builds the rings, supervisor.py
runs the server processes. swiftlike/cli/aio.py glues them into a command and
tests/functional/conftest.py into a test fixture.
"""
