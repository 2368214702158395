"""Settings parse the environment strictly: a bad value stops start-up instead of being guessed at."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from t2i_site.env import env_bool, env_int, env_mapping


@pytest.mark.parametrize(("raw", "value"), [("1", True), ("yes", True), ("Off", False), ("false", False)])
def test_booleans(monkeypatch, raw, value):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG") is value


@pytest.mark.parametrize(("parse", "raw"), [(env_bool, "maybe"), (env_int, "ten"), (env_mapping, "a=1,b")])
def test_bad_values_fail_loudly(monkeypatch, parse, raw):
    monkeypatch.setenv("SETTING", raw)
    with pytest.raises(ImproperlyConfigured, match="SETTING"):
        parse("SETTING")


def test_defaults_apply_only_when_unset(monkeypatch):
    monkeypatch.delenv("UNSET", raising=False)
    assert env_int("UNSET", 5) == 5 and env_mapping("UNSET", {}) == {}
    with pytest.raises(ImproperlyConfigured, match="required"):
        env_int("UNSET")


def test_int_minimum(monkeypatch):
    monkeypatch.setenv("LIMIT", "0")
    with pytest.raises(ImproperlyConfigured):
        env_int("LIMIT", minimum=1)


def test_model_paths_mapping(monkeypatch):
    monkeypatch.setenv("PATHS", "diffusion=/models/a, other=/models/b")
    assert env_mapping("PATHS") == {"diffusion": "/models/a", "other": "/models/b"}
