"""analysis against a real Prometheus scraping an app whose error rate and latency the test sets."""

from __future__ import annotations

import json
import threading
import time

import pytest

pytestmark = pytest.mark.integration

GATE = {"success_condition": "result < 1", "failure_condition": "result >= 5"}


@pytest.fixture
def app(metrics_app, prometheus):
    """The app back to healthy before and after each test, and Prometheus seeing it."""
    metrics_app.values.update(app_error_rate_pct=0.2, app_latency_p95_seconds=0.3)
    prometheus.wait_for("app_error_rate_pct", lambda v: v == 0.2)
    yield metrics_app
    metrics_app.values.update(app_error_rate_pct=0.2, app_latency_p95_seconds=0.3)


def analysis_args(prometheus, state_dir, metrics, **extra):
    args = {
        "prometheus_url": prometheus.url,
        "interval": "0.3s",
        "count": 3,
        "metrics": metrics,
        "state_dir": str(state_dir),
        "run_id": "rb-analysis",
    }
    args.update(extra)
    return args


def test_healthy_release_is_successful_and_read_only(app, prometheus, four, state_dir):
    metrics = [
        {"name": "error_rate", "query": "app_error_rate_pct", **GATE},
        {"name": "p95_latency", "query": "app_latency_p95_seconds", "failure_condition": "result > 2"},
    ]
    results = four("emergency.rollback.analysis", analysis_args(prometheus, state_dir, metrics), expect=(False,) * 4)
    for res in results:
        assert res["phase"] == "Successful"
        error_rate, latency = res["metrics"]
        assert (error_rate["phase"], error_rate["count"], error_rate["successful"]) == ("Successful", 3, 3)
        assert [m["value"] for m in error_rate["measurements"]] == [0.2, 0.2, 0.2]
        assert [m["value"] for m in latency["measurements"]] == [0.3, 0.3, 0.3]
        assert all(m["ts"].endswith("Z") and m["phase"] == "Successful" for m in latency["measurements"])
    # Check mode measures too (read-only) but only the real runs are journaled.
    lines = [json.loads(line) for line in (state_dir / "journal.jsonl").read_text().splitlines()]
    assert [(e["component"], e["action"], e["result"], e["to"]) for e in lines] == [
        ("analysis", "analysis", "ok", "Successful")
    ] * 2


def test_error_rate_above_threshold_fails_and_stops_early(app, prometheus, task, state_dir):
    app.values["app_error_rate_pct"] = 9.5
    prometheus.wait_for("app_error_rate_pct", lambda v: v == 9.5)
    metrics = [{"name": "error_rate", "query": "app_error_rate_pct", "failure_limit": 1, **GATE}]
    _event, res, _run = task("emergency.rollback.analysis", analysis_args(prometheus, state_dir, metrics, count=5))
    assert not res.get("failed") and res["changed"] is False
    assert res["phase"] == "Failed"
    [metric] = res["metrics"]
    # failure_limit 1 tolerates one failed measurement; the second ends the run before count 5.
    assert (metric["phase"], metric["failed"], metric["count"]) == ("Failed", 2, 2)
    assert [m["value"] for m in metric["measurements"]] == [9.5, 9.5]
    assert res["journal_entry"]["result"] == "failed" and res["journal_entry"]["to"] == "Failed"


def test_no_data_is_a_failure_unless_configured(app, prometheus, task, state_dir):
    app.values["app_error_rate_pct"] = None  # the app stops exporting it: the series goes stale
    prometheus.wait_for("app_error_rate_pct", lambda v: v is None)
    metrics = [{"name": "error_rate", "query": "app_error_rate_pct", **GATE}]
    _event, res, _run = task("emergency.rollback.analysis", analysis_args(prometheus, state_dir, metrics))
    assert res["phase"] == "Failed"
    [measurement] = res["metrics"][0]["measurements"]
    assert (measurement["value"], measurement["phase"], measurement["message"]) == (None, "Failed", "no data")

    metrics[0]["no_data"] = "inconclusive"
    _event, res, _run = task("emergency.rollback.analysis", analysis_args(prometheus, state_dir, metrics))
    assert res["phase"] == "Inconclusive"


def test_flapping_release_is_inconclusive(app, prometheus, task, state_dir):
    # The error rate bounces between healthy and the grey zone between the two conditions.
    stop = threading.Event()

    def flap():
        while not stop.is_set():
            app.values["app_error_rate_pct"] = 3.0 if app.values["app_error_rate_pct"] != 3.0 else 0.4
            stop.wait(0.5)

    flapper = threading.Thread(target=flap, daemon=True)
    flapper.start()
    try:
        metrics = [{"name": "error_rate", "query": "max_over_time(app_error_rate_pct[2s])", "inconclusive_limit": 1}]
        metrics[0].update(GATE)
        args = analysis_args(prometheus, state_dir, metrics, count=6, interval="0.7s", initial_delay="2s")
        _event, res, _run = task("emergency.rollback.analysis", args)
    finally:
        stop.set()
        flapper.join()
    assert res["phase"] == "Inconclusive", res["metrics"]
    [metric] = res["metrics"]
    assert metric["inconclusive"] == 2 and metric["failed"] == 0
    assert all(m["value"] == 3.0 for m in metric["measurements"] if m["phase"] == "Inconclusive")


def test_worst_metric_wins_and_json_url_path_reads_a_reply(app, prometheus, task, state_dir):
    app.values["app_latency_p95_seconds"] = 2.5
    prometheus.wait_for("app_latency_p95_seconds", lambda v: v == 2.5)
    metrics = [
        {"name": "error_rate", "query": "app_error_rate_pct", **GATE},
        {
            "name": "p95_latency",
            # Any JSON URL: here Prometheus' own API, with a path to the value of the first series.
            "url": "%s/api/v1/query?query=app_latency_p95_seconds" % prometheus.url,
            "json_path": "data.result.0.value.1",
            "failure_condition": "result > 2",
        },
    ]
    _event, res, _run = task("emergency.rollback.analysis", analysis_args(prometheus, state_dir, metrics, count=1))
    assert res["phase"] == "Failed"
    phases = [(m["name"], m["phase"]) for m in res["metrics"]]
    assert phases == [("error_rate", "Successful"), ("p95_latency", "Failed")]
    assert res["metrics"][1]["measurements"][0]["value"] == 2.5


def test_unreachable_prometheus_is_an_error_after_the_consecutive_limit(task, state_dir):
    metrics = [{"name": "error_rate", "query": "up", "consecutive_error_limit": 1, **GATE}]
    args = {
        "prometheus_url": "http://127.0.0.1:9",
        "interval": "0.1s",
        "count": 5,
        "metrics": metrics,
        "state_dir": str(state_dir),
    }
    _event, res, _run = task("emergency.rollback.analysis", args)
    assert res["phase"] == "Error"
    assert (
        res["metrics"][0]["error"] == 2
        and "GET http://127.0.0.1:9/api/v1/query failed" in (res["metrics"][0]["measurements"][0]["message"])
    )


@pytest.mark.parametrize(
    ("metric", "extra", "message"),
    [
        ({"name": "m", "query": "up", "success_condition": "os.system('x')"}, {}, "may only compare `result`"),
        ({"name": "m", "query": "up", "success_condition": "value < 1"}, {}, "unknown name 'value'"),
        ({"name": "m", "query": "up"}, {}, "metric m needs a success_condition or a failure_condition"),
        ({"name": "m", "query": "up", "url": "http://x", **GATE}, {}, "mutually exclusive"),
        ({"name": "m", "json_path": "a.b", **GATE}, {}, "one of the following is required: query, url"),
        ({"name": "m", "query": "up", **GATE}, {"prometheus_url": None}, "has a query but prometheus_url is not set"),
        ({"name": "m", "query": "up", **GATE}, {"interval": "soon"}, "interval must be seconds or a number"),
    ],
)
def test_bad_input_fails_in_one_line_and_measures_nothing(task, state_dir, metric, extra, message):
    args = {"prometheus_url": "http://127.0.0.1:9", "metrics": [metric], "state_dir": str(state_dir)}
    args.update(extra)
    args = {k: v for k, v in args.items() if v is not None}
    started = time.monotonic()
    event, res, _run = task("emergency.rollback.analysis", args)
    assert event == "runner_on_failed" and message in res["msg"] and "\n" not in res["msg"]
    assert not (state_dir / "journal.jsonl").exists()
    assert time.monotonic() - started < 60


def test_credentials_in_a_metric_url_reach_neither_the_result_nor_the_decision_journal(task, state_dir):
    """rollback_complete journals the analysis' metrics in its decision entry: no credential may ride along."""
    url = "http://reader:s3cr3t-pw@127.0.0.1:9/metrics.json?api_key=k3y-123&window=5m"
    metric = {"name": "errors", "url": url, "json_path": "rate", "consecutive_error_limit": 0, **GATE}
    args = {"metrics": [metric], "interval": "0.1s", "count": 1, "state_dir": str(state_dir)}
    _event, res, _run = task("emergency.rollback.analysis", args)
    assert res["phase"] == "Error"
    message = res["metrics"][0]["measurements"][0]["message"]
    assert message.startswith("GET http://********@127.0.0.1:9/metrics.json failed"), message
    decision = {
        "component": "rollback",
        "action": "decision",
        "result": "ok",
        "to": res["phase"],
        "details": {"analysis_metrics": res["metrics"], "source": url},
        "state_dir": str(state_dir),
    }
    _event, recorded, _run = task("emergency.rollback.journal_record", decision)
    assert not recorded.get("failed"), recorded
    journal = (state_dir / "journal.jsonl").read_text()
    assert "decision" in journal and "window=5m" in journal
    measured = json.dumps(res["metrics"])
    assert not [secret for secret in ("s3cr3t-pw", "k3y-123") if secret in journal + measured]
