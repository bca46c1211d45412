"""No secret value in anything a report can show: driver frames dropped from connection errors, and every known
secret scrubbed from rendered text as the last line of defence."""

from __future__ import annotations

import socket

import pytest
from _pytest._code import ExceptionInfo

from dmsval import redaction
from dmsval.credentials import Credentials
from dmsval.engines import open_engine
from dmsval.errors import EngineError

SECRET = "Tr4ceback-Secret-9"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("engine_name", ["redshift", "postgres", "mysql"])
def test_a_refused_connection_shows_no_password_even_in_a_long_traceback_with_locals(engine_name):
    credentials = Credentials("127.0.0.1", _closed_port(), "reader", "db", SECRET)
    engine = open_engine(engine_name, credentials, role="target", query_timeout_s=5)
    with pytest.raises(EngineError) as caught:
        engine.connect()
    assert "cannot connect to target" in str(caught.value)
    # what pytest prints for --tb=long --showlocals, chained causes included
    shown = str(ExceptionInfo.from_exception(caught.value).getrepr(style="long", funcargs=True, showlocals=True,
                                                                   chain=True))
    assert "cannot connect to target" in shown and SECRET not in shown


def test_scrub_replaces_every_form_of_a_remembered_secret():
    redaction.forget_all()
    try:
        redaction.remember(SECRET)
        redaction.remember("abc")  # too short to be worth scrubbing: ordinary text must survive
        text = f'password={SECRET!r} json="{SECRET}" abc'
        assert redaction.scrub(text) == "password='***' json=\"***\" abc"
        tricky = 'p"w\\d-1234'
        redaction.remember(tricky)
        assert redaction.scrub_data({"m": [f"x {tricky} y", {"k": '"p\\"w\\\\d-1234"'}]}) == \
            {"m": ["x *** y", {"k": '"***"'}]}
    finally:
        redaction.forget_all()
    assert redaction.scrub(text) == text  # nothing remembered: unchanged
