import pytest

from dmsval.errors import MappingError
from dmsval.mappings import TablePair, parse_rules

CATALOG = [("sakila", "actor"), ("sakila", "film"), ("sakila", "film_text"), ("sakila", "Film_Actor"),
           ("employees", "employee"), ("employees", "salary"), ("other", "film")]


def sel(rule_id, schema, table, action="include"):
    return {"rule-type": "selection", "rule-id": str(rule_id), "rule-name": str(rule_id),
            "object-locator": {"schema-name": schema, "table-name": table}, "rule-action": action}


def tr(rule_id, target, action, schema, table=None, value=None, old=None):
    locator = {"schema-name": schema}
    if table is not None:
        locator["table-name"] = table
    rule = {"rule-type": "transformation", "rule-id": str(rule_id), "rule-name": str(rule_id),
            "rule-target": target, "rule-action": action, "object-locator": locator}
    if value is not None:
        rule["value"] = value
    if old is not None:
        rule["old-value"] = old
    return rule


def names(pairs):
    return [(p.source_name, p.target_name) for p in pairs]


def test_percent_wildcards_on_schema_and_table():
    m = parse_rules({"rules": [sel(1, "sak%", "film%")]})
    assert names(m.select(CATALOG)) == [("sakila.Film_Actor", "sakila.Film_Actor"), ("sakila.film", "sakila.film"),
                                        ("sakila.film_text", "sakila.film_text")]


def test_underscore_matches_one_character():
    m = parse_rules({"rules": [sel(1, "sakila", "f_lm")]})
    assert names(m.select(CATALOG)) == [("sakila.film", "sakila.film")]


def test_exclude_wins_whatever_the_rule_order():
    rules = [sel(1, "sakila", "film_text", "exclude"), sel(2, "sakila", "%")]
    selected = [p.source_table for p in parse_rules({"rules": rules}).select(CATALOG)]
    assert "film_text" not in selected and "film" in selected and len(selected) == 3


def test_explicit_names_one_table_without_wildcards():
    m = parse_rules({"rules": [sel(1, "other", "film", "explicit")]})
    assert names(m.select(CATALOG)) == [("other.film", "other.film")]


def test_rename_schema_and_lowercase_tables():
    m = parse_rules({"rules": [sel(1, "sakila", "%"), tr(2, "schema", "rename", "sakila", value="dvd"),
                               tr(3, "table", "convert-lowercase", "%", "%")]})
    pairs = m.select(CATALOG)
    assert TablePair("sakila", "Film_Actor", "dvd", "film_actor") in pairs
    assert all(p.target_schema == "dvd" for p in pairs)


def test_table_rename_and_prefix_rules_apply_in_rule_id_order():
    m = parse_rules({"rules": [sel(1, "employees", "%"), tr(20, "table", "add-prefix", "employees", "%", "t_"),
                               tr(10, "table", "rename", "employees", "salary", "salaries")]})
    assert names(m.select(CATALOG)) == [("employees.employee", "employees.t_employee"),
                                        ("employees.salary", "employees.t_salaries")]


@pytest.mark.parametrize("action, value, old, expected", [
    ("remove-prefix", "film_", None, "text"), ("add-suffix", "_v1", None, "film_text_v1"),
    ("remove-suffix", "_text", None, "film"), ("replace-prefix", "movie_", "film_", "movie_text"),
    ("replace-suffix", "_txt", "_text", "film_txt"), ("convert-uppercase", None, None, "FILM_TEXT"),
])
def test_name_actions(action, value, old, expected):
    m = parse_rules({"rules": [sel(1, "sakila", "film_text"), tr(2, "table", action, "sakila", "film_text", value, old)]})
    assert m.select(CATALOG)[0].target_table == expected


@pytest.mark.parametrize("rules, message", [
    ([], "no 'rules'"),
    ([sel(1, "sakila", "%", "exclude")], "no include"),
    ([sel(7, "sakila", "%", "keep")], "rule-id 7: unsupported selection rule-action 'keep'"),
    ([sel(1, "sakila", "%"), tr(8, "index", "rename", "sakila", "%", "x")], "rule-id 8: unsupported"),
    ([sel(1, "sakila", "%"), tr(10, "column", "rename", "sakila", "%", "x")], "rule-id 10: .*needs column-name"),
    ([sel(1, "sakila", "%"), tr(11, "table", "remove-column", "sakila", "%")], "rule-id 11: unsupported .*rule-target table"),
    ([sel(1, "sakila", "%"), tr(12, "column", "add-column", "sakila", "%", "x")], "rule-id 12: add-column needs"),
    ([{**sel(13, "sakila", "%"), "filters": [{"filter-type": "source", "column-name": "a",
                                               "filter-conditions": [{"filter-operator": "like", "value": "x"}]}]}],
     "rule-id 13: unsupported filter-operator 'like' on column a"),
    ([{**sel(14, "sakila", "%"), "filters": [{"filter-type": "source", "column-name": "a",
                                               "filter-conditions": [{"filter-operator": "between", "start-value": 1}]}]}],
     "rule-id 14: between on column a needs start-value and end-value"),
    ([sel(1, "sakila", "%"), tr(9, "table", "rename", "sakila", "%")], "rule-id 9: rule-action rename needs"),
    ([sel(1, "sakila", "%"), tr(4, "table", "replace-prefix", "sakila", "%", "a")], "rule-id 4: .*old-value"),
    ([sel(1, "sakila", "%"), {"rule-type": "fancy", "rule-id": "5"}], "rule-id 5: unsupported rule-type"),
    ([{"rule-type": "selection", "rule-id": "6", "rule-action": "include"}], "rule-id 6: missing object-locator"),
])
def test_invalid_rules_name_their_rule_id(rules, message):
    with pytest.raises(MappingError, match=message):
        parse_rules({"rules": rules})


def col(rule_id, action, schema, table, column, value=None, old=None, data_type=None):
    rule = tr(rule_id, "column", action, schema, table, value, old)
    rule["object-locator"]["column-name"] = column
    if data_type is not None:
        rule["data-type"] = data_type
    return rule


def test_column_rules_rename_remove_add_and_type_change():
    m = parse_rules({"rules": [
        sel(1, "sakila", "film"),
        col(2, "rename", "sakila", "film", "title", "film_title"),
        col(3, "remove-column", "sakila", "film", "special_features"),
        col(4, "add-prefix", "sakila", "film", "rental_%", "r_"),
        col(5, "convert-uppercase", "sakila", "film", "%"),
        {**col(6, "add-column", "sakila", "film", "%", "loaded_at"), "data-type": {"type": "datetime"}},
        col(7, "change-data-type", "sakila", "film", "length", data_type={"type": "int8"}),
    ]})
    pair = m.select(CATALOG)[0]
    assert pair.target_column("title") == "FILM_TITLE"
    assert pair.target_column("special_features") is None
    assert pair.target_column("rental_rate") == "R_RENTAL_RATE"
    assert pair.target_column("length") == "LENGTH"
    assert pair.added_columns == ("loaded_at",)
    assert pair.type_changes == {"length": {"type": "int8"}}
    assert TablePair.from_dict(pair.to_dict()) == pair


def test_source_filters_become_the_source_where_clause():
    rule = {**sel(1, "sakila", "actor"), "filters": [
        {"filter-type": "source", "column-name": "actor_id",
         "filter-conditions": [{"filter-operator": "between", "start-value": "1", "end-value": "50"},
                               {"filter-operator": "gte", "value": "190"}]},
        {"filter-type": "source", "column-name": "last_name",
         "filter-conditions": [{"filter-operator": "noteq", "value": "O'BRIEN"}]},
        {"filter-type": "source", "column-name": "first_name", "filter-conditions": [{"filter-operator": "notnull"}]},
    ]}
    pair = parse_rules({"rules": [rule]}).select(CATALOG)[0]
    sql = pair.source_filter_sql(lambda c: f"`{c}`", lambda v: "'" + v.replace("'", "''") + "'")
    assert sql == ("(`actor_id` BETWEEN '1' AND '50' OR `actor_id` >= '190') AND (`last_name` <> 'O''BRIEN') "
                   "AND (`first_name` IS NOT NULL)")
    assert TablePair.from_dict(pair.to_dict()) == pair
    others = [p for p in parse_rules({"rules": [rule, sel(2, "sakila", "film")]}).select(CATALOG)
              if p.source_table == "film"]
    assert others[0].filters == ()
