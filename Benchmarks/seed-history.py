#!/usr/bin/env python3
"""Fills a journal the daemon has created (schema v2) with history, for `Benchmarks/run.sh history`:
FINISHED finished jobs spread over the retention period, PENDING completed jobs whose callback to
DEAD_ORIGIN waits in the outbox (a tenth due now, the rest over the next hour), and an
Idempotency-Key for every tenth job. Rows are written in the daemon's own format (StoredJob JSON).

usage: seed-history.py JOURNAL CLIENT FINISHED PENDING DEAD_URL
Prints the ids of a few old jobs (one per line) for the read benchmark.
"""
import base64
import json
import random
import sqlite3
import sys
import time
from datetime import datetime, timezone
from urllib.parse import urlparse

path, client, finished, pending, dead_url = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
random.seed(13)
now = time.time()
url = urlparse(dead_url)
origin = "%s://%s:%d" % (url.scheme, url.hostname, url.port or (443 if url.scheme == "https" else 80))  # CallbackOrigin


def rfc3339(seconds):
    return datetime.fromtimestamp(int(seconds), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def job(index, created, callback):
    return {
        "id": "rn_%024x" % index,
        "status": "completed",
        "cloud": "main",
        "from_public_id": "history/%d" % index,
        "to_public_id": "history/%d-new" % index,
        "resource_type": "image",
        "type": "upload",
        "to_type": None,
        "overwrite": False,
        "invalidate": True,
        "client_reference": "order-%d" % index,
        "attempts": 1,
        "created_at": rfc3339(created),
        "updated_at": rfc3339(created + 2),
        "completed_at": rfc3339(created + 2),
        "result": {"public_id": "history/%d-new" % index, "version": 1, "secure_url": None},
        "invalidation": {"status": "confirmed", "method": "probe", "confirmed_at": rfc3339(created + 2)},
        "error": None,
        "callback": callback,
    }


db = sqlite3.connect(path)
db.execute("PRAGMA synchronous = OFF")
db.execute("BEGIN")
insert = (
    "INSERT INTO jobs (id, sequence, status, finished_at, body, client, callback_origin, callback_due_at) "
    "VALUES (?, ?, 'completed', ?, ?, ?, ?, ?)"
)
retention = 6 * 86400
old = []
for index in range(1, finished + pending + 1):
    created = now - retention + retention * index / (finished + pending)
    if index <= finished:
        body = {"job": job(index, created, {"url": None, "status": "none", "attempts": 0, "last_status": None}), "client": client}
        db.execute(insert, ("rn_%024x" % index, index, created + 2, json.dumps(body).encode(), client, None, None))
        if index % 100_000 == 1:
            old.append("rn_%024x" % index)
    else:
        due = now if index % 10 == 0 else now + random.uniform(60, 3600)
        callback = {"url": dead_url, "status": "pending", "attempts": 1, "last_status": None}
        event = json.dumps({"type": "rename.completed", "data": job(index, created, callback)}).encode()
        body = {
            "job": job(index, created, callback),
            "client": client,
            "eventID": "evt_%032x" % index,
            "eventBody": base64.b64encode(event).decode(),
            "nextAttemptAt": due,
        }
        db.execute(insert, ("rn_%024x" % index, index, None, json.dumps(body).encode(), client, origin, due))
    if index % 10 == 0:
        db.execute(
            "INSERT INTO idempotency_keys (client, key, job_id, body) VALUES (?, ?, ?, ?)",
            (client, "key-%d-%s" % (index, "k" * 200), "rn_%024x" % index, json.dumps({"from_public_id": "history/%d" % index}).encode()),
        )
db.execute("COMMIT")
db.close()
print("\n".join(old))
