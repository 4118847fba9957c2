"""Camera addresses: which are accepted, how credentials are hidden, what a browser can play."""

from __future__ import annotations

import pytest

from forewarn.cameras import urls
from forewarn.cameras.grab import mask_in


@pytest.mark.parametrize(("url", "shown"), [
    ("rtsp://admin:p@ss:w0rd@10.0.0.5:554/Streaming/Channels/101", "rtsp://admin:***@10.0.0.5:554/Streaming/Channels/101"),
    ("http://cam/cgi-bin/CGIProxy.fcgi?cmd=snapPicture2&usr=admin&pwd=abc", "http://cam/cgi-bin/CGIProxy.fcgi?cmd=snapPicture2&usr=admin&pwd=***"),
    ("http://cam/snap.jpg?token=t0k&size=2", "http://cam/snap.jpg?token=***&size=2"),
    ("http://cam/snap.jpg", "http://cam/snap.jpg"),
    ("", ""),
])
def test_passwords_and_secret_parameters_are_masked_the_rest_kept(url: str, shown: str) -> None:
    assert urls.mask(url) == shown
    assert urls.has_credentials(url) == (url != shown)


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://cam/x.jpg", "must start with http:// or https:// or rtsp:// or rtsps://"),
    ("http:///x.jpg", "names no host"),
    ("http://evil;x/y", "is not a host name"),
    ("http://cam:port/x", "is not a valid URL"),
    ("http://cam/a b", "holds a space"),
])
def test_an_address_a_csp_or_a_grab_could_not_use_is_refused_with_why(url: str, problem: str) -> None:
    found = urls.url_problem(url, urls.SNAPSHOT_SCHEMES)
    assert found is not None and problem in found


def test_only_what_a_browser_plays_without_credentials_is_a_live_view() -> None:
    assert urls.live_kind("http://cam/video.mjpg") == "image"
    assert urls.live_kind("https://nvr/hls/1/index.m3u8") == "hls"
    assert urls.live_kind("rtsp://cam/1") == "none"
    assert urls.live_kind("http://admin:x@cam/video.mjpg") == "none"
    assert urls.origin("http://[::1]:8080/v.mjpg") == "http://[::1]:8080"
    assert urls.origin("https://nvr.example/hls/1.m3u8") == "https://nvr.example"


def test_an_error_never_repeats_the_password() -> None:
    url = "rtsp://admin:s3cret@10.0.0.5/1"
    assert mask_in(f"{url}: Connection refused (s3cret)", url) == "rtsp://admin:***@10.0.0.5/1: Connection refused (***)"
