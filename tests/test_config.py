import pytest

from dmsval.config import resolve_settings
from dmsval.errors import ConfigError


def test_precedence_cli_over_env_over_ini():
    s = resolve_settings({"cdc_latency_threshold": "7"}, {"cdc_latency_threshold": "9", "sql_dir": "mine"},
                         {"DMSVAL_CDC_LATENCY_THRESHOLD": "8", "DMSVAL_SQL_DIR": "env_sql"})
    assert s.cdc_latency_threshold == 7.0
    assert s.sql_dir == "env_sql"


def test_defaults_and_dms_event_from_environment():
    s = resolve_settings({}, {}, {"DMS_EVENT": '{"a": 1}'})
    assert s.dms_event == '{"a": 1}' and s.mode == "auto" and s.cdc_latency_threshold == 5.0
    assert s.reports_dir == "reports"


@pytest.mark.parametrize("cli, message", [
    ({"mode": "sometimes"}, "--mode: invalid value 'sometimes'"),
    ({"cdc_latency_threshold": "-1"}, "--cdc-latency-threshold"),
    ({"s3_uri": "bucket/prefix"}, "--s3-uri.*s3://"),
    ({"numeric_tolerance": "abc"}, "--numeric-tolerance"),
])
def test_bad_values_name_the_option(cli, message):
    with pytest.raises(ConfigError, match=message):
        resolve_settings(cli, {}, {})


def test_bad_environment_value_names_the_variable():
    with pytest.raises(ConfigError, match="DMSVAL_MODE"):
        resolve_settings({}, {}, {"DMSVAL_MODE": "x"})


def test_settings_are_frozen():
    s = resolve_settings({}, {}, {})
    with pytest.raises(AttributeError):
        s.mode = "cdc"  # type: ignore[misc]
