"""The alert rules and the Grafana dashboard under ``deploy/monitoring/``: they parse (YAML and
JSON, and every expression as PromQL), and every metric they use is one ``/metrics`` exports
(scraped from the app after some traffic)."""

from __future__ import annotations

import json
import re

import promql_parser  # type: ignore[import-not-found,unused-ignore]
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from deploy.processes import ROOT
from tests.support.api import Api

RULES = yaml.safe_load((ROOT / "deploy/monitoring/alerts.yml").read_text())
DASHBOARD = json.loads((ROOT / "deploy/monitoring/grafana-dashboard.json").read_text())
_METRIC = re.compile(r"\b(wallet_[a-z_]+)\b")


def _rules() -> list[dict[str, object]]:
    return [rule for group in RULES["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    return [target["expr"] for panel in DASHBOARD["panels"] for target in panel["targets"]]


RUNBOOK = ROOT / "docs" / "runbook.md"


def _anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a document's headings (lowercase, spaces to dashes, no punctuation)."""
    headings = re.findall(r"^#+ (.+)$", markdown, re.MULTILINE)
    return {re.sub(r"[^a-z0-9 _-]", "", heading.lower()).replace(" ", "-") for heading in headings}


def test_every_rule_is_complete_and_its_runbook_section_exists() -> None:
    rules = _rules()
    anchors = _anchors(RUNBOOK.read_text())
    assert len({rule["alert"] for rule in rules}) == len(rules) >= 13
    for rule in rules:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert re.fullmatch(r"\d+[smh]", str(rule["for"]))
        assert rule["labels"]["severity"] in ("page", "ticket")  # type: ignore[index]
        annotations: dict[str, str] = rule["annotations"]  # type: ignore[assignment]
        assert annotations["summary"]
        assert annotations["runbook_url"] == f"docs/runbook.md#{str(rule['alert']).lower()}"
        assert str(rule["alert"]).lower() in anchors, rule["alert"]


GLOBAL = re.compile(
    r"\bwallet_(queue_|shard|workers_|failed_jobs|transfers_pending|transfers_stalled|holds_|batch_|webhook_)"
)
"""Scrape-time metrics: every web instance exports the same value (read from Redis or PostgreSQL)."""


@pytest.mark.parametrize("expr", [*(str(rule["expr"]) for rule in _rules()), *_dashboard_exprs()])
def test_global_values_are_one_series_per_stack_and_rates_use_grafanas_interval(expr: str) -> None:
    if GLOBAL.search(expr) and not expr.startswith("absent("):  # absent(): whether any instance has it
        assert "without(instance" in expr.replace(" ", ""), expr
    if expr in _dashboard_exprs():
        windows = re.findall(r"\[([^\]]+)\]", expr)
        assert all(window == "$__rate_interval" for window in windows), expr


def test_counts_and_money_have_their_own_axes() -> None:
    for panel in DASHBOARD["panels"]:
        amounts = [t["refId"] for t in panel["targets"] if t["expr"].endswith("_amount)")]
        for ref in amounts:
            [override] = [o for o in panel["fieldConfig"]["overrides"] if o["matcher"]["options"] == ref]
            properties = {p["id"]: p["value"] for p in override["properties"]}
            assert properties["custom.axisPlacement"] == "right", panel["title"]
            assert properties["custom.axisLabel"] == "money"


def test_the_dashboard_is_a_grafana_dashboard() -> None:
    assert DASHBOARD["uid"]
    assert DASHBOARD["title"]
    ids = [panel["id"] for panel in DASHBOARD["panels"]]
    assert len(ids) == len(set(ids)) >= 8
    for panel in DASHBOARD["panels"]:
        assert panel["datasource"]["uid"] == "${datasource}"
        assert panel["targets"]


@pytest.fixture
def exported(api: Api) -> set[str]:
    """Every sample name of a scrape after an operation, a transfer and a hold."""
    source, destination = api.create_wallet(10), api.create_wallet()
    assert api.post_transfer(source, destination, "1.00").status_code == 200
    assert api.post_hold(source, {"amount": "1.00"}).status_code == 201
    response = api.client.get("/metrics")
    assert response.status_code == 200
    return {
        sample.name for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples
    }


@pytest.mark.parametrize("expr", [*(str(rule["expr"]) for rule in _rules()), *_dashboard_exprs()])
def test_every_expression_is_promql(expr: str) -> None:
    promql_parser.parse(expr.replace("$__rate_interval", "1m"))  # ValueError on a syntax error


@pytest.mark.parametrize("source", ["alerts", "dashboard"])
def test_every_metric_used_is_exported(exported: set[str], source: str) -> None:
    exprs = [str(rule["expr"]) for rule in _rules()] if source == "alerts" else _dashboard_exprs()
    used = {name for expr in exprs for name in _METRIC.findall(expr)}
    assert used
    assert used <= exported, used - exported
