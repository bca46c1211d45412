"""Systematic differences are diagnosed in a real run (row_diff details, the report, SNS); random ones are not."""

from __future__ import annotations

import pytest

from devstack import demo
from devstack.provision import delivered_messages

from .test_suite_e2e import copies, delivery_args, migration  # noqa: F401 (fixtures)

pytestmark = pytest.mark.integration

SHIFT = "UPDATE sakila.rental SET rental_date = rental_date + INTERVAL '5 hours 30 minutes'"
UPPER = "UPDATE sakila.customer SET email = UPPER(email)"


def test_a_column_wide_pattern_is_diagnosed_with_its_likely_cause(migration, run_suite, aws):
    m = migration("systematic", [SHIFT, UPPER])
    run = run_suite(*delivery_args(m), "--checks", "row_diff", event=m.event)
    by_id = {c["case_id"]: c for c in run.results["cases"]}
    rental, customer = by_id["row_diff[sakila.rental]"], by_id["row_diff[sakila.customer]"]
    assert rental["status"] == customer["status"] == "failed"  # diagnosed, never excused
    [shift] = rental["details"]["diagnoses"]
    assert shift["column"] == "rental_date" and shift["pattern"] == "time_shift"
    assert shift["figures"]["offset"] == "+05:30" and "ServerTimezone" in shift["likely_cause"]
    [case] = customer["details"]["diagnoses"]
    assert case["column"] == "email" and case["pattern"] == "letter_case"
    assert "+05:30" in rental["message"]
    html = (run.reports / "report.html").read_text()
    assert "Diagnosis" in html and "constant time shift of +05:30" in html
    body = delivered_messages(aws, m.made.queue_url)[0]["Message"]
    assert "diagnosis: rental_date:" in body and "likely cause:" in body


def test_random_defects_get_no_diagnosis(migration, run_suite):
    m = migration("randomdefects", demo.PLANTED_SQL + [
        f"UPDATE sakila.film SET title = 'RANDOM {i}' WHERE film_id = {i * 37}" for i in range(1, 26)])
    run = run_suite("--checks", "row_diff", event=m.event)
    by_id = {c["case_id"]: c for c in run.results["cases"]}
    assert by_id["row_diff[sakila.film]"]["figures"]["changed"] == 25
    assert all("diagnoses" not in c["details"] for c in run.results["cases"])
