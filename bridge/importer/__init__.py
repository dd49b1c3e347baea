"""Importing a community's past: list archives (``icop import mbox``) and room history (``icop import
matrix``), stored as the relay stores live posts and never sent anywhere.

``mbox`` splits files into messages, ``mail`` reads one (in worker processes), ``writer`` stores
batches of posts through ``bridge.store.archive_import`` with threads from ``bridge.core.archive_threads``,
``progress`` tells the person running it, ``mbox_import`` / ``matrix_import`` run the two imports,
and ``commands`` checks arguments and maps outcomes to exit codes.
"""
