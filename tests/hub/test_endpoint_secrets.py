"""An endpoint's user info (``http://user:password@host``) is a credential: the client's
retry warnings and errors name the Hub without it."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest
from kinhub.hub.client import HubClient
from kinhub.hub.errors import HubError
from kinhub.hub.ratelimit import RateLimits
from kinhub.hub.retry import RetryPolicy


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_retry_warnings_and_errors_do_not_show_the_endpoint_password(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = _closed_port()
    client = HubClient(
        endpoint=f"http://mirror-user:s3cret-pw@127.0.0.1:{port}",
        cache_dir=tmp_path,
        retry=RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.02),
        limits=RateLimits.unlimited(),
    )
    caplog.set_level(logging.DEBUG, logger="kinhub")
    with pytest.raises(HubError) as raised:
        client.model_info("org/model")
    shown = caplog.text + str(raised.value)
    assert f"127.0.0.1:{port}" in caplog.text  # the Hub is named ...
    assert "s3cret-pw" not in shown and "mirror-user" not in shown  # ... without its user info
