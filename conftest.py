"""Loads the dmsval plugin: options, run planning from the DMS task, case parametrization and reports."""

pytest_plugins = ["dmsval.plugin"]
