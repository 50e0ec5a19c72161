#!/usr/bin/env python3
"""Verify callbacks captured by the Swift tests with the reference `standardwebhooks` library.

Usage: verify_standard_webhooks.py CAPTURE.json
CAPTURE.json: {"secret": "whsec_...", "deliveries": [{"headers": {...}, "body_base64": "..."}]}
Exit 0 when every delivery verifies byte for byte; 1 when one does not; 3 when the library is missing.
"""
import base64
import json
import sys

try:
    from standardwebhooks.webhooks import Webhook, WebhookVerificationError
except ImportError:
    print("the standardwebhooks package is not installed (pip install -r Tests/Interop/requirements.txt)", file=sys.stderr)
    sys.exit(3)

capture = json.load(open(sys.argv[1]))
webhook = Webhook(capture["secret"])
for index, delivery in enumerate(capture["deliveries"]):
    body = base64.b64decode(delivery["body_base64"])
    try:
        payload = webhook.verify(body, delivery["headers"])
    except WebhookVerificationError as error:
        print(f"delivery {index}: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"delivery {index}: verified {payload['type']} for {payload['data']['id']}")
print(f"{len(capture['deliveries'])} verified")
