#!/usr/bin/env python3
"""Check HTTP exchanges captured by the Swift tests against docs/openapi.yaml with openapi-core.

Usage: check_openapi.py OPENAPI.yaml CAPTURE.json
CAPTURE.json: {"exchanges": [{"method", "path", "query": {name: value}, "status",
                              "headers": {name: value}, "body_base64"}],
               "webhooks": [{"name", "headers": {name: value}, "body_base64"}]}
Every response must be documented for its operation: status code, content type, schema, headers.
An answer to a method the document does not list for a listed path must be the document's
`MethodNotAllowed` response (405); an answer for a path it does not list, its `UnknownPath` response
(404). Every callback must match its webhook's request. Every example in the document (`example`
and `examples` of media types, parameters and headers, `example` of schemas) must match its schema.
Exit 0 when all conform; 1 when one does not; 3 when openapi-core is missing.
"""
import base64
import copy
import json
import sys

try:
    import yaml
    from openapi_core import Config, OpenAPI
    from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
    from openapi_core.testing import MockRequest, MockResponse
    from openapi_schema_validator import OAS31Validator
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError:
    print("the openapi-core package is not installed (pip install -r Tests/Interop/requirements.txt)", file=sys.stderr)
    sys.exit(3)

METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]


class MockWebhookRequest(MockRequest):
    def __init__(self, name, **kwargs):
        super().__init__(**kwargs)
        self.name = name


def media_type(headers):
    return headers.get("content-type", "").split(";")[0].strip()


def describe(error):
    cause = getattr(error, "__cause__", None)
    return f"{error!r}{f' ({cause!r})' if cause else ''}"


def check_examples(document):
    """Validates every example against the schema next to it; returns the failures and the count."""
    registry = Registry().with_resource("urn:openapi", Resource.from_contents(document, default_specification=DRAFT202012))
    failures, checked = [], 0

    def node_ref(ref):
        return [part.replace("~1", "/").replace("~0", "~") for part in ref.lstrip("#/").split("/")]

    def follow(node):
        while isinstance(node, dict) and set(node) == {"$ref"}:
            target = document
            for part in node_ref(node["$ref"]):
                target = target[part]
            node = target
        return node

    def walk(node, pointer):
        nonlocal checked
        if isinstance(node, dict):
            # A parameter, header or media type with its schema; or a schema with its own example.
            schema = pointer + "/schema" if "schema" in node else pointer if pointer.startswith("/components/schemas/") else None
            if schema is not None and ("example" in node or "examples" in node and "schema" in node):
                validator = OAS31Validator(
                    {"$ref": "urn:openapi#" + schema}, registry=registry, format_checker=OAS31Validator.FORMAT_CHECKER
                )
                samples = []
                if "example" in node:
                    samples.append(("example", node["example"]))
                for name, example in (node.get("examples") or {}).items() if "schema" in node else []:
                    example = follow(example)
                    if "value" in example:
                        samples.append((f"examples/{name}", example["value"]))
                for name, value in samples:
                    checked += 1
                    errors = sorted(validator.iter_errors(value), key=lambda error: list(error.path))
                    if errors:
                        failures.append(f"{pointer}/{name}: {errors[0].message} at {list(errors[0].path)}")
            for key, value in node.items():
                walk(value, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                walk(value, f"{pointer}/{index}")

    walk(document, "")
    return failures, checked


def with_unlisted(document, unlisted_methods, unknown_paths):
    """The document plus an operation answering only `MethodNotAllowed` for each method it does not
    list on a path it lists, and only `UnknownPath` on each path it does not list."""
    augmented = copy.deepcopy(document)
    for path, method in unlisted_methods:
        augmented["paths"][path][method] = {
            "security": [],
            "responses": {"405": {"$ref": "#/components/responses/MethodNotAllowed"}},
        }
    for path in unknown_paths:
        augmented["paths"][path] = {
            method: {"security": [], "responses": {"404": {"$ref": "#/components/responses/UnknownPath"}}} for method in METHODS
        }
    return augmented


def listed_path(document, path):
    """The document's path template that `path` matches (a literal one first), or None."""
    segments = path.split("/")
    matches = []
    for template in document["paths"]:
        parts = template.split("/")
        if len(parts) == len(segments) and all(
            part == segment or (part.startswith("{") and part.endswith("}") and segment) for part, segment in zip(parts, segments)
        ):
            matches.append((template.count("{"), template))
    return min(matches)[1] if matches else None


# RFC 9457 problem documents are JSON; openapi-core only knows application/json by itself.
config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
document = yaml.safe_load(open(sys.argv[1]))
openapi = OpenAPI.from_dict(document, config=config)
capture = json.load(open(sys.argv[2]))
failures = 0


def exchange_parts(exchange):
    headers = {name.lower(): value for name, value in exchange["headers"].items()}
    request = MockRequest("http://127.0.0.1:8080", exchange["method"].lower(), exchange["path"], args=exchange["query"])
    response = MockResponse(
        base64.b64decode(exchange["body_base64"]), exchange["status"], headers=headers, content_type=media_type(headers)
    )
    return request, response


# Pass 1 against the document; answers to what it does not list wait for pass 2.
unlisted, unlisted_methods, unknown_paths = [], set(), set()
for exchange in capture["exchanges"]:
    request, response = exchange_parts(exchange)
    label = f'{exchange["method"]} {exchange["path"]} -> {exchange["status"]}'
    try:
        openapi.validate_response(request, response)
    except OperationNotFound:
        unlisted.append(exchange)
    except PathNotFound:
        unknown_paths.add(exchange["path"])
        unlisted.append(exchange)
    except Exception as error:  # openapi-core raises a family of validation errors
        failures += 1
        print(f"{label}: {describe(error)}", file=sys.stderr)

if unlisted:
    for exchange in unlisted:
        template = listed_path(document, exchange["path"])
        if template is not None:
            unlisted_methods.add((template, exchange["method"].lower()))
    augmented = OpenAPI.from_dict(with_unlisted(document, unlisted_methods, unknown_paths), config=config)
    for exchange in unlisted:
        request, response = exchange_parts(exchange)
        label = f'{exchange["method"]} {exchange["path"]} -> {exchange["status"]} (not in the document)'
        try:
            augmented.validate_response(request, response)
        except Exception as error:
            failures += 1
            print(f"{label}: {describe(error)}", file=sys.stderr)

for webhook in capture.get("webhooks", []):
    headers = {name.lower(): value for name, value in webhook["headers"].items()}
    request = MockWebhookRequest(
        webhook["name"],
        host_url="",
        method="post",
        path="",
        headers=headers,
        data=base64.b64decode(webhook["body_base64"]),
        content_type=media_type(headers),
    )
    try:
        openapi.validate_webhook_request(request)
    except Exception as error:
        failures += 1
        print(f'webhook {webhook["name"]}: {describe(error)}', file=sys.stderr)
checked = len(capture["exchanges"]) + len(capture.get("webhooks", []))
print(f"{checked - failures} of {checked} conform")

example_failures, examples = check_examples(document)
for failure in example_failures:
    print(f"example {failure}", file=sys.stderr)
print(f"examples: {examples - len(example_failures)} match their schemas, {len(example_failures)} do not")
sys.exit(1 if failures or example_failures else 0)
