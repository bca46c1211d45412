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


# -- numeric options: finite and within the range each message names ------------------------------------------

@pytest.mark.parametrize("option, value, message", [
    ("query_timeout", "0.5", r"--query-timeout: invalid value '0.5': must be at least 1 second and at most 604800"),
    ("query_timeout", "0", "--query-timeout.*at least 1 second"),
    ("query_timeout", "-1", "--query-timeout.*at least 1 second"),
    ("query_timeout", "nan", "--query-timeout.*at least 1 second and at most 604800"),
    ("query_timeout", "inf", "--query-timeout.*at most 604800"),
    ("query_timeout", "1e12", "--query-timeout.*at most 604800"),
    ("query_timeout", "604801", "--query-timeout.*at most 604800"),
    ("query_timeout", "soon", "--query-timeout.*at least 1 second"),
    ("cdc_latency_threshold", "0", "--cdc-latency-threshold.*greater than 0 and at most 86400"),
    ("cdc_latency_threshold", "nan", "--cdc-latency-threshold.*greater than 0 and at most 86400"),
    ("cdc_latency_threshold", "inf", "--cdc-latency-threshold.*at most 86400"),
    ("cdc_latency_threshold", "1e12", "--cdc-latency-threshold.*at most 86400"),
    ("cdc_lookback_minutes", "1e12", "--cdc-lookback-minutes.*greater than 0 and at most 20160"),
    ("cdc_lookback_minutes", "nan", "--cdc-lookback-minutes.*at most 20160"),
    ("cdc_lookback_minutes", "-inf", "--cdc-lookback-minutes.*greater than 0"),
    ("cdc_lookback_minutes", "0", "--cdc-lookback-minutes.*greater than 0"),
    ("cdc_lookback_minutes", "20161", "--cdc-lookback-minutes.*at most 20160"),
    ("numeric_tolerance", "-1", "--numeric-tolerance.*finite number of at least 0"),
    ("numeric_tolerance", "nan", "--numeric-tolerance.*finite number of at least 0"),
    ("numeric_tolerance", "inf", "--numeric-tolerance.*finite number of at least 0"),
    ("numeric_tolerance", "-0.001", "--numeric-tolerance.*at least 0"),
])
def test_numeric_options_must_be_finite_and_in_range(option, value, message):
    with pytest.raises(ConfigError, match=message) as caught:
        resolve_settings({option: value}, {}, {})
    assert caught.value.usage  # exit 4, a usage error


def test_numeric_option_from_environment_and_ini_is_checked_too():
    with pytest.raises(ConfigError, match="environment variable DMSVAL_QUERY_TIMEOUT.*at least 1 second"):
        resolve_settings({}, {}, {"DMSVAL_QUERY_TIMEOUT": "0.5"})
    with pytest.raises(ConfigError, match="ini key cdc_lookback_minutes.*at most 20160"):
        resolve_settings({}, {"cdc_lookback_minutes": "1e12"}, {})


def test_number_passed_from_python_is_checked_like_text():
    # notebook overrides pass numbers, not strings: they must not skip the range check
    with pytest.raises(ConfigError, match="--query-timeout.*at least 1 second"):
        resolve_settings({"query_timeout": 0.5}, {}, {})
    with pytest.raises(ConfigError, match="--numeric-tolerance.*at least 0"):
        resolve_settings({"numeric_tolerance": float("nan")}, {}, {})
    assert resolve_settings({"query_timeout": 3}, {}, {}).query_timeout == 3.0


@pytest.mark.parametrize("option, value, expected", [
    ("query_timeout", "2.5", 2.5),
    ("query_timeout", "1", 1.0),
    ("query_timeout", "604800", 604800.0),
    ("cdc_latency_threshold", "0.25", 0.25),
    ("cdc_latency_threshold", "86400", 86400.0),
    ("cdc_lookback_minutes", "20160", 20160.0),
    ("cdc_lookback_minutes", "0.5", 0.5),
    ("numeric_tolerance", "0", 0.0),
    ("numeric_tolerance", "0.005", 0.005),
])
def test_numeric_options_in_range_are_accepted(option, value, expected):
    assert getattr(resolve_settings({option: value}, {}, {}), option) == expected


def test_settings_defaults_come_from_options_only():
    import dataclasses

    from dmsval.config import OPTIONS, Settings

    settings_fields = {f.name: f for f in dataclasses.fields(Settings) if f.name != "rootdir"}
    assert list(settings_fields) and set(settings_fields) == {spec.name for spec in OPTIONS}
    for spec in OPTIONS:
        assert settings_fields[spec.name].default == spec.default, spec.name
    assert Settings() == resolve_settings({}, {}, {})
    assert Settings(float_digits=6).float_digits == 6
