"""The operator's command line: ``python -m notary_server admin <command> --config FILE``.

Commands (ADR 0009): ``list``, ``show``, ``purge``, ``gc``, ``expiring`` and
``import``. :mod:`.parser` builds the argument parser and imports nothing
heavy; each command's module is imported only when it runs.
"""
