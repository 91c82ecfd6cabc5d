"""Recon: what a storage node tells an operator about itself.

`procfs` parses the kernel's text files (pure functions), `diskio` turns
/proc/diskstats samples into iostat -x figures per device, `endpoints` builds
the JSON of each `GET /recon/<what>`, and `middleware` serves them in front of
a storage server.
"""
