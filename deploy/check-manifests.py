#!/usr/bin/env python3
"""Checks of deploy/ that kubernetes-validate and promtool cannot make; .ci/run runs it in .build/ci-venv
(PyYAML, jsonschema).

    python3 deploy/check-manifests.py [RENDERED.yaml ...]   check; each argument a `kubectl kustomize` output
    python3 deploy/check-manifests.py --write               make monitoring/prometheus-rules.yaml's spec again

- monitoring/prometheus-rules.yaml's `spec:` is exactly monitoring/rules/asset-renamer.rules.yaml's
  groups (the rules file is the source; `--write` copies it over);
- the PrometheusRule and the ServiceMonitor validate against the schema of the fields the Prometheus
  Operator's CRDs (monitoring.coreos.com/v1) define for them: kubernetes-validate knows no CRD;
- the ServiceMonitor selects kubernetes/service.yaml by its labels and names one of its ports;
- every alert has a severity, a summary, a description and a runbook_url naming its own section of
  docs/RUNBOOK.md, every alert section there names an alert, and the promtool tests have a case where
  each alert fires and one where it does not;
- the Grafana dashboard is JSON whose every panel has a query, on the dashboard's data source, and
  (where promtool is on the PATH) every query parses as PromQL once its variables are filled in;
- each rendered kustomization: the Deployment mounts a ConfigMap made by configMapGenerator (hashed
  name) that holds a YAML mapping, its image comes from `images:`, it mounts no service-account
  token; a NetworkPolicy selects its pods and lets in only its `http` port (and lets out the database
  port when storage.kind is postgres); the Ingress routes only /v1/notifications/cloudinary (Exact)
  to a port of the Service.
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import jsonschema
import yaml

DEPLOY = Path(__file__).resolve().parent
ROOT = DEPLOY.parent
RULES = DEPLOY / "monitoring/rules/asset-renamer.rules.yaml"
RULE_TESTS = DEPLOY / "monitoring/rules/asset-renamer.test.yaml"
PROMETHEUS_RULE = DEPLOY / "monitoring/prometheus-rules.yaml"
SERVICE_MONITOR = DEPLOY / "monitoring/servicemonitor.yaml"
DASHBOARD = DEPLOY / "monitoring/grafana-dashboard.json"
SERVICE = DEPLOY / "kubernetes/service.yaml"
RUNBOOK = ROOT / "docs/RUNBOOK.md"
NOTIFICATIONS_PATH = "/v1/notifications/cloudinary"

problems = []


def problem(message):
    problems.append(message)


def load(path):
    return yaml.safe_load(path.read_text())


# ── PrometheusRule from the rules file ─────────────────────────────────────────────────────────────


def prometheus_rule_text():
    """prometheus-rules.yaml with its `spec:` made from the rules file (its own header kept)."""
    head, marker, _ = PROMETHEUS_RULE.read_text().partition("\nspec:\n")
    if not marker:
        raise SystemExit(f"{PROMETHEUS_RULE}: no top-level `spec:` line")
    rules = RULES.read_text()
    start = re.search(r"^groups:", rules, re.MULTILINE)
    if not start:
        raise SystemExit(f"{RULES}: no top-level `groups:`")
    body = "".join("  " + line if line.strip() else line for line in rules[start.start() :].splitlines(keepends=True))
    return head + marker + body


def check_prometheus_rule():
    if PROMETHEUS_RULE.read_text() != prometheus_rule_text():
        problem(f"{PROMETHEUS_RULE.relative_to(ROOT)} differs from {RULES.relative_to(ROOT)}: run python3 deploy/check-manifests.py --write")
    # The same groups once parsed, whatever the text.
    if load(PROMETHEUS_RULE).get("spec", {}).get("groups") != load(RULES).get("groups"):
        problem(f"{PROMETHEUS_RULE.relative_to(ROOT)}: spec.groups are not the groups of {RULES.relative_to(ROOT)}")


# ── Schemas of the two CRDs (monitoring.coreos.com/v1), the fields they define ───────────────────────

DURATION = {"type": "string", "pattern": r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$"}
STRING_MAP = {"type": "object", "additionalProperties": {"type": "string"}}
NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$", "maxLength": 253}
METADATA = {
    "type": "object",
    "required": ["name"],
    "properties": {"name": NAME, "namespace": NAME, "labels": STRING_MAP, "annotations": STRING_MAP},
}
LABEL_SELECTOR = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": STRING_MAP,
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "additionalProperties": False,
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"enum": ["In", "NotIn", "Exists", "DoesNotExist"]},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


def resource(kind, spec):
    return {
        "type": "object",
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
        "properties": {"apiVersion": {"const": "monitoring.coreos.com/v1"}, "kind": {"const": kind}, "metadata": METADATA, "spec": spec},
    }


RULE = {
    "type": "object",
    "required": ["expr"],
    "additionalProperties": False,
    "properties": {
        "alert": {"type": "string", "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "record": {"type": "string", "pattern": r"^[a-zA-Z_:][a-zA-Z0-9_:]*$"},
        "expr": {"type": ["string", "integer"], "minLength": 1},
        "for": DURATION,
        "keep_firing_for": DURATION,
        "labels": STRING_MAP,
        "annotations": STRING_MAP,
    },
    "oneOf": [{"required": ["alert"]}, {"required": ["record"]}],
}
PROMETHEUS_RULE_SCHEMA = resource(
    "PrometheusRule",
    {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "groups": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name"],
                    "additionalProperties": False,
                    "properties": {
                        "name": {"type": "string", "minLength": 1},
                        "interval": DURATION,
                        "query_offset": DURATION,
                        "limit": {"type": "integer"},
                        "partial_response_strategy": {"type": "string"},
                        "labels": STRING_MAP,
                        "rules": {"type": "array", "items": RULE},
                    },
                },
            }
        },
    },
)
ENDPOINT_FIELDS = [
    "authorization", "basicAuth", "bearerTokenFile", "bearerTokenSecret", "enableHttp2", "filterRunning", "followRedirects",
    "honorLabels", "honorTimestamps", "metricRelabelings", "noProxy", "oauth2", "params", "proxyConnectHeader",
    "proxyFromEnvironment", "proxyUrl", "relabelings", "scheme", "targetPort", "tlsConfig", "trackTimestampsStaleness",
]
SERVICE_MONITOR_SCHEMA = resource(
    "ServiceMonitor",
    {
        "type": "object",
        "required": ["selector"],
        "additionalProperties": False,
        "properties": {
            "selector": LABEL_SELECTOR,
            "namespaceSelector": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"any": {"type": "boolean"}, "matchNames": {"type": "array", "items": {"type": "string"}}},
            },
            "jobLabel": {"type": "string"},
            "targetLabels": {"type": "array", "items": {"type": "string"}},
            "podTargetLabels": {"type": "array", "items": {"type": "string"}},
            "sampleLimit": {"type": "integer", "minimum": 0},
            "targetLimit": {"type": "integer", "minimum": 0},
            "endpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": {
                        "port": {"type": "string"},
                        "path": {"type": "string", "pattern": "^/"},
                        "interval": DURATION,
                        "scrapeTimeout": DURATION,
                        **{field: {} for field in ENDPOINT_FIELDS},
                    },
                },
            },
        },
    },
)


def validate(path, document, schema):
    for error in jsonschema.Draft202012Validator(schema).iter_errors(document):
        where = ".".join(str(part) for part in error.absolute_path) or "(top)"
        problem(f"{path.relative_to(ROOT)}: {where}: {error.message}")


def check_service_monitor():
    monitor = load(SERVICE_MONITOR)
    validate(SERVICE_MONITOR, monitor, SERVICE_MONITOR_SCHEMA)
    service = load(SERVICE)
    labels = service["metadata"].get("labels", {})
    wanted = monitor["spec"]["selector"].get("matchLabels", {})
    if not wanted or any(labels.get(key) != value for key, value in wanted.items()):
        problem(f"servicemonitor.yaml: selector {wanted} does not select the Service's labels {labels}")
    ports = {port.get("name") for port in service["spec"]["ports"]}
    for endpoint in monitor["spec"].get("endpoints", []):
        if endpoint.get("port") not in ports:
            problem(f"servicemonitor.yaml: port {endpoint.get('port')!r} is not a port name of the Service {sorted(ports)}")


# ── Alerts, runbook and unit tests ─────────────────────────────────────────────────────────────────


def anchor(heading):
    """A Markdown heading's anchor as GitHub and GitLab make it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def check_alerts():
    validate(PROMETHEUS_RULE, load(PROMETHEUS_RULE), PROMETHEUS_RULE_SCHEMA)
    alerts = [rule for group in load(RULES)["groups"] for rule in group["rules"] if "alert" in rule]
    names = [rule["alert"] for rule in alerts]
    if len(set(names)) != len(names):
        problem("rules: an alert name is used twice")
    runbook = RUNBOOK.read_text() if RUNBOOK.exists() else ""
    sections = {anchor(line[3:]): line[3:].strip() for line in runbook.splitlines() if line.startswith("## ")}
    for rule in alerts:
        name = rule["alert"]
        if rule.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            problem(f"{name}: labels.severity must be critical, warning or info")
        annotations = rule.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not annotations.get(key):
                problem(f"{name}: no {key} annotation")
        url = annotations.get("runbook_url", "")
        if not url.endswith("docs/RUNBOOK.md#" + anchor(name)):
            problem(f"{name}: runbook_url should end with docs/RUNBOOK.md#{anchor(name)}: {url}")
        if anchor(name) not in sections:
            problem(f"{name}: docs/RUNBOOK.md has no section `## {name}`")
    for section in sections.values():
        if section.startswith("AssetRenamer") and section not in names:
            problem(f"docs/RUNBOOK.md: section {section!r} names no alert")
    # promtool runs the tests; here: each alert has a firing and a quiet evaluation.
    firing, quiet = set(), set()
    for test in load(RULE_TESTS)["tests"]:
        for case in test.get("alert_rule_test", []):
            (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    for name in names:
        if name not in firing:
            problem(f"{RULE_TESTS.name}: no case where {name} fires")
        if name not in quiet:
            problem(f"{RULE_TESTS.name}: no case where {name} stays quiet")


# ── Grafana dashboard ──────────────────────────────────────────────────────────────────────────────


def check_dashboard():
    try:
        dashboard = json.loads(DASHBOARD.read_text())
    except json.JSONDecodeError as error:
        problem(f"grafana-dashboard.json: not JSON: {error}")
        return
    for key in ("uid", "title", "panels", "templating", "schemaVersion"):
        if key not in dashboard:
            problem(f"grafana-dashboard.json: no {key}")
    variables = {variable["name"] for variable in dashboard.get("templating", {}).get("list", [])}
    ids = []
    panels = list(dashboard.get("panels", []))
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        ids.append(panel.get("id"))
        if panel.get("type") == "row":
            continue
        title = panel.get("title", "?")
        if panel.get("datasource", {}).get("uid") != "${datasource}":
            problem(f"grafana-dashboard.json: panel {title!r} does not use the ${{datasource}} variable")
        targets = panel.get("targets", [])
        if not targets or not all(target.get("expr", "").strip() for target in targets):
            problem(f"grafana-dashboard.json: panel {title!r} has a target without a query")
        for target in targets:
            for variable in re.findall(r"\$(\w+)", target.get("expr", "")):
                if variable not in variables and not variable.startswith("__"):
                    problem(f"grafana-dashboard.json: panel {title!r} uses ${variable}, which is not a variable")
    if len(set(ids)) != len(ids) or None in ids:
        problem("grafana-dashboard.json: panel ids must be present and distinct")
    check_queries_parse(dashboard)


def check_queries_parse(dashboard):
    """Every panel's query as a recording rule, for promtool to parse."""
    promtool = shutil.which("promtool")
    if not promtool:
        return
    rules = []
    panels = list(dashboard.get("panels", []))
    while panels:
        panel = panels.pop(0)
        panels.extend(panel.get("panels", []))
        for target in panel.get("targets", []):
            expr = target.get("expr", "").replace("$__rate_interval", "5m").replace("$namespace", ".*").replace("$job", ".*")
            rules.append({"record": f"dashboard:panel_{panel.get('id')}:{target.get('refId')}", "expr": expr})
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as file:
        yaml.safe_dump({"groups": [{"name": "grafana-dashboard", "rules": rules}]}, file)
        file.flush()
        checked = subprocess.run([promtool, "check", "rules", file.name], capture_output=True, text=True)
    if checked.returncode != 0:
        problem(f"grafana-dashboard.json: a query does not parse:\n{checked.stdout}{checked.stderr}")


# ── Rendered kustomizations ────────────────────────────────────────────────────────────────────────


def check_rendered(path):
    documents = [document for document in yaml.safe_load_all(Path(path).read_text()) if document]
    by_kind = {}
    for document in documents:
        by_kind.setdefault(document["kind"], []).append(document)

    def fail(message):
        problem(f"{path}: {message}")

    config_maps = {document["metadata"]["name"]: document for document in by_kind.get("ConfigMap", [])}
    services = {document["metadata"]["name"]: document for document in by_kind.get("Service", [])}
    deployments = by_kind.get("Deployment", [])
    if len(deployments) != 1:
        return fail(f"{len(deployments)} Deployments, expected 1")
    pod = deployments[0]["spec"]["template"]
    spec = pod["spec"]
    if spec.get("automountServiceAccountToken") is not False:
        fail("the pod spec needs automountServiceAccountToken: false")
    container = spec["containers"][0]
    image = container["image"]
    if "/" not in image or ":" not in image.rsplit("/", 1)[-1]:
        fail(f"image {image!r}: registry and tag should come from `images:` in kustomization.yaml")
    configuration = None
    for volume in spec["volumes"]:
        name = volume.get("configMap", {}).get("name")
        if name is None:
            continue
        if name not in config_maps or not re.fullmatch(r".+-[a-z0-9]{10}", name):
            fail(f"volume {volume['name']}: ConfigMap {name!r} is not one that configMapGenerator made")
            continue
        for key, text in config_maps[name].get("data", {}).items():
            configuration = yaml.safe_load(text)
            if not isinstance(configuration, dict):
                fail(f"ConfigMap {name}: {key} is not a YAML mapping")
    if configuration is None:
        return fail("no configuration mounted from a ConfigMap")
    port_names = {port["name"]: port["containerPort"] for port in container["ports"]}

    policies = by_kind.get("NetworkPolicy", [])
    selected = [
        policy
        for policy in policies
        if all(pod["metadata"]["labels"].get(k) == v for k, v in policy["spec"]["podSelector"].get("matchLabels", {}).items())
    ]
    if not selected:
        fail("no NetworkPolicy selects the Deployment's pods")
    for policy in selected:
        if sorted(policy["spec"].get("policyTypes", [])) != ["Egress", "Ingress"]:
            fail("the NetworkPolicy should restrict both Ingress and Egress")
        for rule in policy["spec"].get("ingress", []):
            ports = rule.get("ports", [])
            if not ports or any(port.get("port") not in ("http", port_names.get("http")) for port in ports):
                fail(f"NetworkPolicy ingress allows more than the http port: {ports}")
        egress_ports = {port.get("port") for rule in policy["spec"].get("egress", []) for port in rule.get("ports", [])}
        if not {53, 443} <= egress_ports:
            fail(f"NetworkPolicy egress should allow DNS (53) and HTTPS (443): {sorted(egress_ports, key=str)}")
        storage = configuration.get("storage", {})
        if storage.get("kind") == "postgres" and 5432 not in egress_ports:
            fail("storage.kind is postgres: the NetworkPolicy should allow egress to the database (5432)")

    ingresses = by_kind.get("Ingress", [])
    if not ingresses:
        fail("no Ingress for the notification endpoint")
    for ingress in ingresses:
        for rule in ingress["spec"].get("rules", []):
            for route in rule.get("http", {}).get("paths", []):
                if (route.get("path"), route.get("pathType")) != (NOTIFICATIONS_PATH, "Exact"):
                    fail(f"Ingress {ingress['metadata']['name']} routes {route.get('path')} ({route.get('pathType')}), only {NOTIFICATIONS_PATH} (Exact) may be public")
                backend = route.get("backend", {}).get("service", {})
                service = services.get(backend.get("name"))
                names = {port.get("name") for port in service["spec"]["ports"]} if service else set()
                if backend.get("port", {}).get("name") not in names:
                    fail(f"Ingress backend {backend} is not a named port of a Service of this kustomization")
        if ingress["spec"].get("defaultBackend"):
            fail("the Ingress may not have a defaultBackend: it would expose every path")


def main(arguments):
    if arguments == ["--write"]:
        PROMETHEUS_RULE.write_text(prometheus_rule_text())
        print(f"wrote {PROMETHEUS_RULE.relative_to(ROOT)}")
        return 0
    if any(argument.startswith("-") for argument in arguments):
        print(__doc__)
        return 2
    check_prometheus_rule()
    check_service_monitor()
    check_alerts()
    check_dashboard()
    for path in arguments:
        check_rendered(path)
    for message in problems:
        print(f"check-manifests: {message}", file=sys.stderr)
    if not problems:
        print(f"check-manifests: monitoring manifests, runbook, dashboard and {len(arguments)} rendered kustomizations OK")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
