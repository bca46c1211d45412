"""The validation suite users run: one parametrized case per (check, table) of the DMS task.

Case ids read ``row_count[sakila.film]``; checks live in dmsval/checks (one module each), so this file never
changes when a check is added.
"""


def test_check(validation_case, run_case):
    run_case(validation_case)
