"""Prepare: read chat exports into messages and build (context -> reply) examples.

The records every later stage consumes live here (`message.Message`, `example.Example`), with
the readers of each export format (`readers/`), the cleaning and pseudonymizing of what was read,
and `prepare.prepare`, which writes a dataset folder.
"""
