"""TableMappings resolved against the real Sakila and employees catalogs in MariaDB."""

from __future__ import annotations

import pytest

from dmsval.credentials import Credentials
from dmsval.engines import open_engine
from dmsval.errors import MappingError
from devstack.datasets import load_employees
from dmsval.mappings import parse_rules

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def catalog(sakila):
    load_employees(sakila)
    engine = open_engine("mariadb", Credentials("127.0.0.1", 3306, "root", None, ""), role="source",
                         query_timeout_s=60)
    tables = [t for t in engine.list_tables() if t[0] in ("sakila", "employees")]
    columns = {f"{s}.{t}": [c.name for c in engine.table_info(s, t).columns] for s, t in tables}
    engine.close()
    return tables, columns


def rule(rule_id, **fields):
    return {"rule-id": str(rule_id), "rule-name": f"r{rule_id}", **fields}


def test_every_rule_kind_against_sakila_and_employees(catalog):
    tables, columns = catalog
    mappings = parse_rules({"rules": [
        rule(1, **{"rule-type": "selection", "rule-action": "include",
                   "object-locator": {"schema-name": "sakila", "table-name": "film%"}}),
        rule(2, **{"rule-type": "selection", "rule-action": "exclude",
                   "object-locator": {"schema-name": "sakila", "table-name": "film_t_xt"}}),
        rule(3, **{"rule-type": "selection", "rule-action": "explicit",
                   "object-locator": {"schema-name": "sakila", "table-name": "actor"}}),
        rule(4, **{"rule-type": "selection", "rule-action": "include",
                   "object-locator": {"schema-name": "employees", "table-name": "%"},
                   "filters": [{"filter-type": "source", "column-name": "emp_no",
                                "filter-conditions": [{"filter-operator": "between", "start-value": "10001",
                                                       "end-value": "10100"}]}]}),
        rule(5, **{"rule-type": "selection", "rule-action": "exclude",
                   "object-locator": {"schema-name": "employees", "table-name": "department"}}),
        rule(6, **{"rule-type": "transformation", "rule-target": "schema", "rule-action": "rename",
                   "object-locator": {"schema-name": "employees"}, "value": "hr"}),
        rule(7, **{"rule-type": "transformation", "rule-target": "table", "rule-action": "add-prefix",
                   "object-locator": {"schema-name": "employees", "table-name": "%"}, "value": "emp_"}),
        rule(8, **{"rule-type": "transformation", "rule-target": "table", "rule-action": "convert-uppercase",
                   "object-locator": {"schema-name": "sakila", "table-name": "actor"}}),
        rule(9, **{"rule-type": "transformation", "rule-target": "column", "rule-action": "remove-column",
                   "object-locator": {"schema-name": "sakila", "table-name": "film", "column-name": "special%"}}),
        rule(10, **{"rule-type": "transformation", "rule-target": "column", "rule-action": "rename",
                    "object-locator": {"schema-name": "employees", "table-name": "salary", "column-name": "amount"},
                    "value": "salary_amount"}),
        rule(11, **{"rule-type": "transformation", "rule-target": "column", "rule-action": "add-column",
                    "object-locator": {"schema-name": "employees", "table-name": "salary"}, "value": "loaded_at",
                    "data-type": {"type": "datetime"}}),
        rule(12, **{"rule-type": "table-settings", "object-locator": {"schema-name": "sakila", "table-name": "film"},
                    "parallel-load": {"type": "partitions-auto"}}),
    ]})
    pairs = {p.source_name: p for p in mappings.select(tables)}
    assert sorted(pairs) == ["employees.dept_emp", "employees.dept_manager", "employees.employee",
                             "employees.salary", "employees.title", "sakila.actor", "sakila.film",
                             "sakila.film_actor", "sakila.film_category"]
    assert pairs["sakila.actor"].target_name == "sakila.ACTOR"
    assert pairs["employees.salary"].target_name == "hr.emp_salary"
    film = pairs["sakila.film"]
    assert [c for c in columns["sakila.film"] if film.target_column(c) is None] == ["special_features"]
    salary = pairs["employees.salary"]
    assert [salary.target_column(c) for c in columns["employees.salary"]] == ["emp_no", "salary_amount",
                                                                              "from_date", "to_date"]
    assert salary.added_columns == ("loaded_at",)
    assert salary.source_filter_sql(lambda c: c, repr) == "(emp_no BETWEEN '10001' AND '10100')"
    assert not pairs["sakila.actor"].filters


def test_invalid_rule_names_its_rule_id(catalog):
    with pytest.raises(MappingError, match="rule-id 42: unsupported selection rule-action 'maybe'"):
        parse_rules({"rules": [rule(42, **{"rule-type": "selection", "rule-action": "maybe",
                                           "object-locator": {"schema-name": "sakila", "table-name": "%"}})]})
