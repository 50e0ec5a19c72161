#!/usr/bin/env python3
"""Check HTTP exchanges captured by the Swift tests against docs/openapi.yaml with openapi-core.

Usage: check_openapi.py OPENAPI.yaml CAPTURE.json
CAPTURE.json: {"exchanges": [{"method", "path", "query": {name: value}, "status",
                              "headers": {name: value}, "body_base64"}],
               "webhooks": [{"name", "headers": {name: value}, "body_base64"}]}
Every response must be documented for its operation: status code, content type, schema, headers.
Every callback must match its webhook's request. Exit 0 when all conform; 1 when one does not;
3 when openapi-core is missing.
"""
import base64
import json
import sys

try:
    from openapi_core import Config, OpenAPI
    from openapi_core.testing import MockRequest, MockResponse
except ImportError:
    print("the openapi-core package is not installed (pip install -r Tests/Interop/requirements.txt)", file=sys.stderr)
    sys.exit(3)


class MockWebhookRequest(MockRequest):
    def __init__(self, name, **kwargs):
        super().__init__(**kwargs)
        self.name = name


def media_type(headers):
    return headers.get("content-type", "").split(";")[0].strip()


# RFC 9457 problem documents are JSON; openapi-core only knows application/json by itself.
config = Config(extra_media_type_deserializers={"application/problem+json": json.loads})
openapi = OpenAPI.from_file_path(sys.argv[1], config=config)
capture = json.load(open(sys.argv[2]))
failures = 0
for exchange in capture["exchanges"]:
    headers = {name.lower(): value for name, value in exchange["headers"].items()}
    request = MockRequest("http://127.0.0.1:8080", exchange["method"].lower(), exchange["path"], args=exchange["query"])
    response = MockResponse(
        base64.b64decode(exchange["body_base64"]), exchange["status"], headers=headers, content_type=media_type(headers)
    )
    label = f'{exchange["method"]} {exchange["path"]} -> {exchange["status"]}'
    try:
        openapi.validate_response(request, response)
    except Exception as error:  # openapi-core raises a family of validation errors
        failures += 1
        cause = getattr(error, "__cause__", None)
        print(f"{label}: {error!r}{f' ({cause!r})' if cause else ''}", file=sys.stderr)
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
        cause = getattr(error, "__cause__", None)
        print(f'webhook {webhook["name"]}: {error!r}{f" ({cause!r})" if cause else ""}', file=sys.stderr)
checked = len(capture["exchanges"]) + len(capture.get("webhooks", []))
print(f"{checked - failures} of {checked} conform")
sys.exit(1 if failures else 0)
