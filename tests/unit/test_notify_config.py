"""The notification file: routing, defaults, and one clear error naming the file for every mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from forewarn.alarms.notify import (
    EmailConfig,
    NotifyConfigError,
    SmsConfig,
    WebhookConfig,
    load_notify_config,
)
from tests.unit.test_notify_outbox import notice

GOOD = """
[[channel]]
name = "city-hook"
kind = "webhook"
url = "https://alarms.example.gov.cn/forewarn"
secret = "s3cret"

[[channel]]
name = "duty-mail"
kind = "email"
smtp_host = "mail.example.gov.cn"
starttls = true
username = "forewarn"
password = "pw"
from = "预警平台 <forewarn@example.gov.cn>"
to = ["duty@example.gov.cn"]

[[channel]]
name = "duty-sms"
kind = "sms"
url = "https://sms.example.cn/send?key=K&mobile={to}&content={text}"
to = ["13800138000", "+8613900139000"]
timeout_s = 5

[[route]]
channels = ["city-hook"]
events = ["fired", "escalated", "cleared", "overdue"]

[[route]]
levels = [1, 2]
region_prefixes = ["4512"]
channels = ["duty-sms", "duty-mail", "city-hook"]

[delivery]
backoff_initial_s = 2
max_attempts = 10
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "notify.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_for(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(NotifyConfigError) as caught:
        load_notify_config(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    return message


def test_a_missing_file_means_no_channels(tmp_path: Path) -> None:
    config = load_notify_config(tmp_path / "absent.toml")
    assert config.channels == {} and config.channels_for(notice()) == []


def test_a_good_file_reads_every_kind_with_defaults(tmp_path: Path) -> None:
    config = load_notify_config(write(tmp_path, GOOD))
    hook, mail, sms = config.channels.values()
    assert isinstance(hook, WebhookConfig) and hook.timeout_s == 10 and hook.secret == "s3cret"
    assert isinstance(mail, EmailConfig) and mail.smtp_port == 587 and mail.to == ("duty@example.gov.cn",)
    assert isinstance(sms, SmsConfig) and sms.method == "GET" and sms.timeout_s == 5
    assert config.delivery.backoff_initial_s == 2 and config.delivery.max_attempts == 10
    assert config.delivery.backoff_max_s == 3600
    assert "s3cret" not in repr(hook) and "pw" not in repr(mail).replace("password", "")


def test_routes_match_by_event_level_and_region_prefix(tmp_path: Path) -> None:
    config = load_notify_config(write(tmp_path, GOOD))
    assert config.channels_for(notice(level=1)) == ["city-hook", "duty-sms", "duty-mail"]
    assert config.channels_for(notice(level=3)) == ["city-hook"]
    assert config.channels_for(notice(level=1, region_code="140202")) == ["city-hook"]
    assert config.channels_for(notice(level=1, event="cleared")) == ["city-hook"]
    assert config.channels_for(notice(level=1, event="acknowledged")) == []


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[[channel]]\nname = "x\n')
    assert "not valid TOML" in message and "line 2" in message


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('name = "h"\nkind = "pager"', "'kind' = \"pager\" is not one of webhook, email, sms"),
        ('name = "h"\nkind = "webhook"\nsecret = "k"', "'url' is missing"),
        ('name = "h"\nkind = "webhook"\nurl = "http://127.0.0.1/x"', "'secret' is missing"),
        ('name = "h"\nkind = "webhook"\nurl = "ftp://h/x"\nsecret = "k"', "is not an http:// or https://"),
        ('name = "h"\nkind = "webhook"\nurl = "http://h/"\nsecret = "k"\nurll = "x"', "unknown key 'urll' (did you mean 'url'?)"),
        ('name = "h"\nkind = "webhook"\nurl = "http://h/"\nsecret = "k"\ntimeout_s = 0', "'timeout_s' = 0 is out of range"),
        ('name = "h"\nkind = "webhook"\nurl = "http://h/"\nsecret = "k"\ntimeout_s = "10"', "'timeout_s' must be a number"),
        ('name = "m"\nkind = "email"\nsmtp_host = "h"\nfrom = "a@b.cn"\nto = "c@d.cn"', "'to' must be a list"),
        ('name = "m"\nkind = "email"\nsmtp_host = "h"\nfrom = "a@b.cn"\nto = ["nobody"]', '"nobody" is not an e-mail address'),
        ('name = "m"\nkind = "email"\nsmtp_host = "h"\nfrom = "a@b.cn"\nto = ["c@d.cn"]\nusername = "u"', "'username' and 'password' go together"),
        ('name = "m"\nkind = "email"\nsmtp_host = "h"\nfrom = "a@b.cn"\nto = ["c@d.cn"]\nssl = true\nstarttls = true', "keep one"),
        ('name = "m"\nkind = "email"\nsmtp_host = "h"\nfrom = "a@b.cn"\nto = ["c@d.cn"]\nsmtp_port = 70000', "'smtp_port' = 70000 is out of range"),
        ('name = "s"\nkind = "sms"\nurl = "http://h/send?to={to}"\nto = ["13800138000"]', "placeholder {text}"),
        ('name = "s"\nkind = "sms"\nurl = "http://h/?t={to}&m={text}"\nto = ["138-0013"]', "is not a phone number"),
        ('name = "s"\nkind = "sms"\nurl = "http://h/?t={to}&m={text}"\nto = ["13800138000"]\nmethod = "PUT"', "must be GET or POST"),
        ('name = "s"\nkind = "sms"\nurl = "http://h/?t={to}&m={text}"\nto = ["13800138000"]\nbody = "x"', "'body' is sent only with method"),
        ('name = "s"\nkind = "sms"\nurl = "http://h/?t={to}&m={text}"\nto = []', "'to' is an empty list"),
    ],
)
def test_each_channel_mistake_names_the_table_its_line_and_the_problem(
    tmp_path: Path, table: str, expected: str
) -> None:
    message = error_for(tmp_path, f"# channels\n\n[[channel]]\n{table}\n")
    assert expected in message
    assert "[[channel]] #1" in message and "(line 3)" in message


def test_route_mistakes_are_named(tmp_path: Path) -> None:
    base = '[[channel]]\nname = "h"\nkind = "webhook"\nurl = "http://h/"\nsecret = "k"\n\n'
    assert 'channel "nope" is not defined by any [[channel]] (defined: "h")' in error_for(
        tmp_path, base + '[[route]]\nchannels = ["nope"]\n')
    assert "whole numbers from 1 to 4" in error_for(tmp_path, base + '[[route]]\nchannels = ["h"]\nlevels = [5]\n')
    assert 'event "fire" is not one of' in error_for(tmp_path, base + '[[route]]\nchannels = ["h"]\nevents = ["fire"]\n')
    assert "leading digits of a division code" in error_for(
        tmp_path, base + '[[route]]\nchannels = ["h"]\nregion_prefixes = ["Hechi"]\n')
    message = error_for(tmp_path, base + "[[route]]\nlevels = [1]\n")
    assert "[[route]] #1 (line 7): 'channels' is missing" in message


def test_duplicate_names_delivery_and_top_level_mistakes_are_named(tmp_path: Path) -> None:
    hook = '[[channel]]\nname = "h"\nkind = "webhook"\nurl = "http://h/"\nsecret = "k"\n'
    assert 'another [[channel]] is already named "h"' in error_for(tmp_path, hook + hook)
    assert "'backoff_max_s' (1) is less than 'backoff_initial_s' (5)" in error_for(
        tmp_path, "[delivery]\nbackoff_max_s = 1\n")
    assert "unknown key 'retries'" in error_for(tmp_path, "[delivery]\nretries = 3\n")
    assert "unknown top-level key 'channels'" in error_for(tmp_path, "channels = 1\n")


def test_every_mistake_is_listed_in_the_one_error(tmp_path: Path) -> None:
    message = error_for(tmp_path, '[[channel]]\nname = "h"\nkind = "webhook"\n\n[[route]]\nchannels = ["h"]\n')
    assert "2 mistakes" in message and "'url' is missing" in message and "'secret' is missing" in message
    # the route names a channel that is wrong, not missing: it is not reported a second time
    assert "not defined" not in message


def test_a_file_that_is_not_utf8_is_named(tmp_path: Path) -> None:
    path = tmp_path / "notify.toml"
    path.write_bytes('name = "预警"'.encode("gbk"))
    with pytest.raises(NotifyConfigError, match="is not UTF-8"):
        load_notify_config(path)


def test_the_public_names_are_all_importable() -> None:
    import forewarn.alarms.notify as notify

    assert sorted(notify.__all__) == sorted(set(notify.__all__))
    assert all(hasattr(notify, name) for name in notify.__all__)
