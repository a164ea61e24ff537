"""The ``ddl`` command: :mod:`.main` dispatches, each other module holds one command's arguments.

This package is the only code in ddlcore that parses arguments; the stages expose plain functions.
"""
