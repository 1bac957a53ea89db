"""AnalysisRun semantics: measurement phases, limits, early stop, worst metric wins, conditions."""

from __future__ import annotations

import pytest

from ansible_collections.emergency.rollback.plugins.module_utils._analysis import (
    AnalysisError,
    ConditionError,
    Metric,
    compile_condition,
    evaluate,
    parse_duration,
    run,
    worst,
)


def spec(**extra):
    base = {
        "name": "m",
        "success_condition": "result < 1",
        "failure_condition": "result >= 5",
        "failure_limit": 0,
        "inconclusive_limit": 0,
        "consecutive_error_limit": 4,
        "no_data": "failed",
    }
    base.update(extra)
    return base


def series(*values):
    """A fetch that returns the values in turn; an exception instance is raised instead."""
    values = list(values)

    def fetch():
        value = values.pop(0)
        if isinstance(value, Exception):
            raise value
        return value

    return fetch


def analyse(metrics, count, sleeps=None):
    sleeps = [] if sleeps is None else sleeps
    return run(metrics, count, interval=2, initial_delay=3, sleep=sleeps.append)


@pytest.mark.parametrize(
    ("value", "conditions", "phase"),
    [
        (0.5, {}, "Successful"),
        (5, {}, "Failed"),
        (3, {}, "Inconclusive"),  # both conditions given, neither met
        (3, {"failure_condition": None}, "Failed"),  # only a success condition: not met is a failure
        (3, {"success_condition": None}, "Successful"),  # only a failure condition: not met is a success
        (None, {}, "Failed"),  # no data
        (None, {"no_data": "inconclusive"}, "Inconclusive"),
        (None, {"no_data": "successful"}, "Successful"),
    ],
)
def test_measurement_phase(value, conditions, phase):
    metric = Metric(spec(**conditions), series(value))
    metric.measure()
    assert metric.measurements[0]["phase"] == phase and metric.measurements[0]["value"] == value


def test_healthy_run_takes_every_measurement_with_waits():
    sleeps = []
    phase, [summary] = analyse([Metric(spec(), series(0.1, 0.2, 0.3))], 3, sleeps)
    assert phase == "Successful" and summary["count"] == 3 and summary["successful"] == 3
    assert sleeps == [3, 2, 2]  # initial delay, then the interval between measurements


def test_failure_limit_is_tolerated_then_the_run_stops():
    phase, [summary] = analyse([Metric(spec(failure_limit=1), series(9, 0.1, 9, 0.1, 0.1))], 5)
    assert phase == "Failed" and (summary["failed"], summary["count"]) == (2, 3)


def test_inconclusive_limit():
    phase, [summary] = analyse([Metric(spec(inconclusive_limit=1), series(3, 0.1, 0.1))], 3)
    assert phase == "Successful" and summary["inconclusive"] == 1
    phase, _ = analyse([Metric(spec(inconclusive_limit=1), series(3, 3, 0.1))], 3)
    assert phase == "Inconclusive"


def test_consecutive_errors_only_count_in_a_row():
    boom = AnalysisError("GET http://p/api/v1/query failed: refused")
    metric = Metric(spec(consecutive_error_limit=1), series(boom, 0.1, boom, 0.1, boom))
    phase, [summary] = analyse([metric], 5)
    assert phase == "Successful" and summary["error"] == 3
    phase, [summary] = analyse([Metric(spec(consecutive_error_limit=1), series(boom, boom, 0.1))], 3)
    assert phase == "Error" and summary["count"] == 2
    assert summary["measurements"][0]["message"] == "GET http://p/api/v1/query failed: refused"


def test_worst_metric_wins():
    metrics = [Metric(spec(name="a"), series(0.1)), Metric(spec(name="b"), series(7))]
    phase, summaries = analyse(metrics, 1)
    assert phase == "Failed" and [s["phase"] for s in summaries] == ["Successful", "Failed"]
    assert worst(["Successful", "Inconclusive"]) == "Inconclusive"
    assert worst(["Error", "Inconclusive"]) == "Error"
    assert worst(["Error", "Failed"]) == "Failed"
    assert worst([]) == "Successful"


@pytest.mark.parametrize(
    ("text", "result", "expected"),
    [
        ("result < 5", 4.9, True),
        ("result < 5", 5, False),
        ("result >= 0.5 and result < 2", 1, True),
        ("not result > 1 or result == 7", 7, True),
        ("0 <= result <= 1", 1.5, False),
        ("result * 100 > 5", 0.06, True),
        ("-result < 0", 1, True),
    ],
)
def test_conditions(text, result, expected):
    assert evaluate(compile_condition(text, "c"), result) is expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("result <", "is not an expression"),
        ("__import__('os').system('id')", "may only compare `result`"),
        ("len(result) > 0", "may only compare `result`"),
        ("value > 1", "unknown name 'value'"),
        ("result == 'up'", "only numbers may be compared"),
        ("result[0] > 1", "may only compare `result`"),
    ],
)
def test_bad_conditions(text, message):
    with pytest.raises(ConditionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        compile_condition(text, "success_condition")


@pytest.mark.parametrize(
    ("value", "seconds"), [(30, 30), ("30", 30), ("30s", 30), ("2m", 120), ("1h", 3600), ("500ms", 0.5), ("0.3s", 0.3)]
)
def test_durations(value, seconds):
    assert parse_duration(value, "interval") == pytest.approx(seconds)


@pytest.mark.parametrize("value", ["soon", "-1s", "1d", "", "1 m 2"])
def test_bad_durations(value):
    with pytest.raises(ValueError, match="interval must be seconds or a number with ms, s, m or h"):
        parse_duration(value, "interval")
