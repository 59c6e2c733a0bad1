"""The monitoring assets (Prometheus scrape config and alert rules, Grafana dashboards) refer only to metrics DSRS
exposes, and pass promtool. promtool comes from Debian's `prometheus` package; without it these tests fail."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from dsrs.monitoring.metrics import EXPOSED

ROOT = Path(__file__).resolve().parents[2]
MONITORING = ROOT / "monitoring"
SCRAPE_CONFIG = MONITORING / "prometheus.yml"
ALERT_RULES = MONITORING / "rules" / "dsrs-alerts.yml"
DASHBOARDS = sorted((MONITORING / "grafana" / "dashboards").glob("*.json"))
METRIC_NAME = re.compile(r"dsrs_[a-z0-9_]+")
# Grafana's interval variables, replaced by fixed durations so promtool can parse a panel's query.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
PROMTOOL_MISSING = (
    "promtool is not on PATH: install Debian's prometheus package "
    "(apt-get update && apt-get install -y prometheus), which puts it at /usr/bin/promtool"
)


def unknown_metrics(expr: str) -> set[str]:
    return set(METRIC_NAME.findall(expr)) - EXPOSED


def exprs_in(node: Any) -> Iterator[str]:
    """Every `expr` string anywhere in a dashboard, including panels nested in collapsed rows."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "expr" and isinstance(value, str):
                yield value
            else:
                yield from exprs_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from exprs_in(item)


def load_dashboard(path: Path) -> dict[str, Any]:
    dashboard = json.loads(path.read_text())
    assert isinstance(dashboard, dict), f"{path.name}: not a JSON object"
    return dashboard


def alert_rules() -> list[dict[str, Any]]:
    document = yaml.safe_load(ALERT_RULES.read_text())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    assert rules, f"{ALERT_RULES.name} has no rules"
    return rules


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(PROMTOOL_MISSING)
    return subprocess.run([path, *args], capture_output=True, text=True, timeout=120, check=False)


def test_the_name_check_catches_a_metric_dsrs_does_not_expose() -> None:
    assert unknown_metrics("sum(rate(dsrs_agent_events_processed_total[5m]))") == set()
    assert unknown_metrics("rate(dsrs_agent_events_processed[5m]) + up") == {"dsrs_agent_events_processed"}


def test_the_overview_dashboard_is_there() -> None:
    assert "dsrs-overview.json" in [path.name for path in DASHBOARDS]


@pytest.mark.parametrize("path", DASHBOARDS, ids=[path.name for path in DASHBOARDS])
def test_dashboard_panels_query_only_exposed_metrics(path: Path) -> None:
    dashboard = load_dashboard(path)
    assert dashboard.get("uid"), f"{path.name}: no uid"
    assert dashboard.get("title"), f"{path.name}: no title"
    panels = dashboard.get("panels")
    assert isinstance(panels, list), f"{path.name}: `panels` is not a list"
    assert panels, f"{path.name}: no panels"
    for panel in panels:
        if panel.get("type") == "row":
            continue
        targets = panel.get("targets") or []
        assert targets, f"{path.name}: {panel.get('title')!r} has no query"
        assert all(t.get("expr") for t in targets), f"{path.name}: {panel.get('title')!r} has an empty query"
        assert panel.get("datasource", {}).get("uid") == "prometheus", f"{path.name}: {panel.get('title')!r}"
    exprs = list(exprs_in(dashboard))
    named = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
    assert named, f"{path.name}: no query names a dsrs_ metric"
    unknown = {name for expr in exprs for name in unknown_metrics(expr)}
    assert not unknown, f"{path.name} queries metrics DSRS does not expose: {sorted(unknown)}"


def test_dashboard_queries_are_valid_promql(tmp_path: Path) -> None:
    """Each panel query becomes a recording rule, so `promtool check rules` parses it."""
    rules = []
    for path in DASHBOARDS:
        for number, expr in enumerate(exprs_in(load_dashboard(path))):
            for variable, duration in GRAFANA_VARIABLES.items():
                expr = expr.replace(variable, duration)
            assert "$" not in expr, f"{path.name}: a Grafana variable this test does not know: {expr}"
            rules.append({"record": f"dashboard:{path.stem.replace('-', '_')}:{number}", "expr": expr})
    assert rules
    rule_file = tmp_path / "dashboard-queries.yml"
    rule_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}))
    result = promtool("check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_query_only_exposed_metrics() -> None:
    unknown = {name for rule in alert_rules() for name in unknown_metrics(str(rule["expr"]))}
    assert not unknown, f"{ALERT_RULES.name} uses metrics DSRS does not expose: {sorted(unknown)}"


def test_every_alert_has_a_duration_severity_and_summary() -> None:
    for rule in alert_rules():
        name = rule.get("alert")
        assert name, f"not an alerting rule: {rule}"
        assert rule.get("for"), f"{name}: no `for:`"
        assert rule.get("labels", {}).get("severity") in ("critical", "warning", "info"), f"{name}: no severity"
        assert rule.get("annotations", {}).get("summary"), f"{name}: no summary annotation"
        assert rule["annotations"].get("description"), f"{name}: no description telling an operator what to do"


def test_alert_rules_pass_promtool() -> None:
    result = promtool("check", "rules", "--lint=all", "--lint-fatal", str(ALERT_RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(alert_rules())} rules found" in result.stdout, result.stdout


def test_scrape_config_passes_promtool(tmp_path: Path) -> None:
    """The full check, with the token file and rule glob pointed at copies under tmp_path: promtool reads both."""
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "dsrs"]
    assert job["metrics_path"] == "/metrics"
    assert job["static_configs"] == [{"targets": ["dsrs:6066"]}]
    assert job["authorization"]["credentials_file"] == "/etc/prometheus/dsrs-token"
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]

    (tmp_path / "rules").mkdir()
    shutil.copy(ALERT_RULES, tmp_path / "rules" / ALERT_RULES.name)
    token = tmp_path / "dsrs-token"
    token.write_text("not-a-real-token\n")
    job["authorization"]["credentials_file"] = str(token)
    config["rule_files"] = [str(tmp_path / "rules" / "*.yml")]
    checked = tmp_path / "prometheus.yml"
    checked.write_text(yaml.safe_dump(config))

    result = promtool("check", "config", "--lint-fatal", str(checked))
    assert result.returncode == 0, result.stdout + result.stderr
    assert ALERT_RULES.name in result.stdout, f"the rule glob matched nothing:\n{result.stdout}"
    # And the file as shipped, whose paths exist only inside the Prometheus container.
    result = promtool("check", "config", "--syntax-only", str(SCRAPE_CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
