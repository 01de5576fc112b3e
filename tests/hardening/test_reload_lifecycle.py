"""POST /-/reload: off unless --web.enable-lifecycle, never a GET or a cross-site form; a
reload keeps the collectors (counters, follower state) whose settings did not change, and a
failed reload always reports last_reload_successful 0."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path

import pytest

from galera_lab.wait import WaitTimeoutError, wait_for
from tests.hardening.harness import Exporter, metric, offline_exporter

pytestmark = [pytest.mark.timeout(120)]

# A donor-side SST failure as MariaDB 10.11 writes it (tests/fixtures/errorlog).
SST_FAILED_LINE = (
    b"2026-11-27 10:07:23 0 [Warning] WSREP: 0.0 (logs61): State transfer to 1.0 (logs62) "
    b"failed: Unknown error 255\n"
)


def reload_status(exporter: Exporter) -> float | None:
    samples = exporter.scrape().samples()
    return metric(samples, "galera_exporter_config_last_reload_successful")


def test_reload_endpoint_is_off_by_default(tmp_path: Path) -> None:
    exporter = offline_exporter(tmp_path)
    try:
        refused = exporter.request("POST", "/-/reload")
        print(f"POST /-/reload without --web.enable-lifecycle: {refused.status} {refused.body!r}")
        assert refused.status == 403
        assert "--web.enable-lifecycle" in refused.body
        assert exporter.request("GET", "/-/reload").status == 405
        # SIGHUP stays the way to reload without the endpoint.
        exporter.signal(signal.SIGHUP)
        wait_for("SIGHUP reload", lambda: "configuration reloaded" in exporter.log_text(), 10)
        assert reload_status(exporter) == 1
    finally:
        exporter.stop()


def test_reload_refuses_get_and_cross_site_requests(tmp_path: Path) -> None:
    exporter = offline_exporter(tmp_path, "--web.enable-lifecycle")
    origin = f"http://{exporter.host}:{exporter.port}"
    try:
        assert exporter.request("GET", "/-/reload").status == 405
        assert exporter.request("HEAD", "/-/reload").status == 405
        cross_site = {
            "fetch metadata": {"Sec-Fetch-Site": "cross-site"},
            "same-site, other origin": {"Sec-Fetch-Site": "same-site"},
            "foreign Origin": {"Origin": "http://evil.example"},
            "opaque Origin": {"Origin": "null"},
            "form": {"Content-Type": "application/x-www-form-urlencoded"},
            "multipart form": {"Content-Type": "multipart/form-data; boundary=x"},
            "text/plain form": {"Content-Type": "text/plain"},
        }
        for what, headers in cross_site.items():
            response = exporter.request("POST", "/-/reload", headers)
            print(f"{what}: {response.status} {response.body.strip()!r}")
            assert response.status == 403, what
        allowed = {
            "curl -X POST": {},
            "same origin": {"Origin": origin, "Sec-Fetch-Site": "same-origin"},
            "typed by a person": {"Sec-Fetch-Site": "none"},
            "JSON": {"Content-Type": "application/json"},
        }
        for what, headers in allowed.items():
            response = exporter.request("PUT" if what == "JSON" else "POST", "/-/reload", headers)
            assert response.status == 200, (what, response.body)
        assert "looks cross-site" in exporter.log_text()
    finally:
        exporter.stop()


def test_reload_keeps_counters_and_reports_every_failure(tmp_path: Path) -> None:
    error_log = tmp_path / "mysqld.err"
    error_log.write_bytes(b"")
    config = tmp_path / "config.yml"
    base = f"mysqld:\n  error_log_file: {error_log}\n"
    config.write_text(base)
    exporter = offline_exporter(tmp_path, f"--config.file={config}", "--web.enable-lifecycle")

    def sst_failed() -> float | None:
        samples = exporter.scrape().samples()
        return metric(samples, "galera_errorlog_events_total", event="sst_failed")

    def lines() -> float:
        samples = exporter.scrape().samples()
        return metric(samples, "galera_errorlog_lines_total") or 0.0

    try:
        assert sst_failed() == 0  # the first scrape starts the follower
        # Lines written before the follower reached the end count as backlog, not as events:
        # append harmless lines until one is counted as new, then the event.
        for _ in range(10):
            with error_log.open("ab") as handle:
                handle.write(b"2026-11-27 10:07:08 1 [Note] WSREP: marker for the test\n")
            with contextlib.suppress(WaitTimeoutError):
                wait_for("a new line counted", lambda: lines() >= 1, 2)
                break
        with error_log.open("ab") as handle:
            handle.write(SST_FAILED_LINE)
        wait_for("the sst_failed event counted", lambda: sst_failed() == 1, 10)
        # Reloads that change other things keep the error-log collector and its counter.
        for text in (
            base + "log:\n  level: debug\n",
            base + "collectors:\n  grastate: false\n",
            base + "mysql:\n  timeout_seconds: 0.7\n",
        ):
            config.write_text(text)
            response = exporter.request("POST", "/-/reload")
            assert response.status == 200, response.body
            assert sst_failed() == 1, f"counter reset by reloading {text!r}"
            assert reload_status(exporter) == 1
        assert "collectors kept" in exporter.log_text()
        # Every failed reload reports 0, whatever failed, and the old config keeps working.
        for text in (
            "mysqld: [\n",  # invalid YAML
            base + "backend:\n  backlog_bytes: .inf\n",  # passed validation, then broke a build
            "{1: a, b: c}\n",  # mixed-type keys
            base + "web:\n  config_file: /nonexistent/web.yml\n",
        ):
            config.write_text(text)
            response = exporter.request("POST", "/-/reload")
            print(f"reload of {text!r}: {response.status} {response.body.strip()!r}")
            assert response.status == 500
            assert reload_status(exporter) == 0, text
            assert sst_failed() == 1
            config.write_text(base)
            assert exporter.request("POST", "/-/reload").status == 200
            assert reload_status(exporter) == 1
    finally:
        exporter.stop()
