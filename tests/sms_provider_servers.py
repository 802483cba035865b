"""Loopback HTTP servers that speak the SMS providers' documented requests and answers.

Each checks what the provider checks (its authentication, its required fields), records
every accepted message, and answers as the provider does; ``fail`` maps a phone number to a
scripted answer (an error status and body) to test the classification of errors.
Helpers only (no test here): ``tests/integration/test_sms_providers.py`` uses them.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
import random
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class ProviderServer:
    """Base: a threaded HTTP server on 127.0.0.1; subclasses implement ``answer``."""

    def __init__(self) -> None:
        self.sent: list[dict] = []  # what a handset would receive: one entry per message
        self.fail: dict[str, tuple[int, dict]] = {}
        self.refused_auth = 0
        self.lock = threading.Lock()
        self._ids = itertools.count(random.randrange(10**6, 10**9, 1000))  # runs share a database
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self._dispatch("GET")

            def do_POST(self):
                self._dispatch("POST")

            def _dispatch(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                status, answer = server.answer(method, self.path, dict(self.headers), body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_args):
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.http.server_port}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def answer(self, method: str, path: str, headers: dict, body: bytes) -> tuple[int, object]:
        raise NotImplementedError

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


class TwilioServer(ProviderServer):
    """``POST /2010-04-01/Accounts/{sid}/Messages.json``, Basic auth, form fields."""

    def __init__(self, sid: str = "AC" + "1" * 32, token: str = "twilio-token") -> None:  # noqa: S107 - a test double's credentials
        self.sid, self.token = sid, token
        super().__init__()

    def answer(self, method, path, headers, body):
        if method != "POST" or path != f"/2010-04-01/Accounts/{self.sid}/Messages.json":
            return 404, {
                "code": 20404,
                "message": "The requested resource was not found",
                "status": 404,
            }
        expected = "Basic " + base64.b64encode(f"{self.sid}:{self.token}".encode()).decode()
        if headers.get("Authorization") != expected:
            self.refused_auth += 1
            return 401, {"code": 20003, "message": "Authenticate", "status": 401}
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        to = form.get("To", "")
        if to in self.fail:
            return self.fail[to]
        if (
            not to.startswith("+")
            or not form.get("Body")
            or not (form.get("From") or form.get("MessagingServiceSid"))
        ):
            return 400, {
                "code": 21211,
                "message": f"The 'To' number {to} is not a valid phone number.",
                "status": 400,
            }
        sid = f"SM{self.next_id():032x}"
        segments = _segments(form["Body"])
        with self.lock:
            self.sent.append({"id": sid, "to": to, "text": form["Body"], "form": form})
        return 201, {
            "sid": sid,
            "status": "queued",
            "to": to,
            "num_segments": str(segments),
            "error_code": None,
        }

    def signature(self, url: str, params: dict) -> str:
        """What Twilio puts in X-Twilio-Signature when it calls ``url`` with ``params``."""
        import hmac

        data = url + "".join(f"{k}{params[k]}" for k in sorted(params))
        return base64.b64encode(
            hmac.new(self.token.encode(), data.encode(), hashlib.sha1).digest()
        ).decode()


class OvhServer(ProviderServer):
    """``POST /1.0/sms/{service}/jobs`` signed with OVH's $1$ scheme; ``GET /1.0/auth/time``."""

    def __init__(self) -> None:
        self.service, self.app_key, self.consumer = "sms-ab12345-1", "ak", "ck"
        self.app_secret = "as"
        self.clock = 1_800_000_000
        super().__init__()

    def answer(self, method, path, headers, body):
        if method == "GET" and path == "/1.0/auth/time":
            return 200, self.clock
        url = self.base + path
        if method != "POST" or path != f"/1.0/sms/{self.service}/jobs":
            return 404, {"message": "Got an invalid (or empty) URL"}
        stamp = headers.get("X-Ovh-Timestamp", "")
        text = "+".join([self.app_secret, self.consumer, "POST", url, body.decode(), stamp])
        signed = "$1$" + hashlib.sha1(text.encode()).hexdigest()  # noqa: S324 - OVH's scheme
        if (
            headers.get("X-Ovh-Application") != self.app_key
            or headers.get("X-Ovh-Consumer") != self.consumer
            or headers.get("X-Ovh-Signature") != signed
            or abs(int(stamp or 0) - self.clock) > 30
        ):
            self.refused_auth += 1
            return 403, {
                "errorCode": "INVALID_SIGNATURE",
                "httpCode": "400 Bad Request",
                "message": "Invalid signature",
            }
        job = json.loads(body)
        (to,) = job["receivers"]
        if to in self.fail:
            return self.fail[to]
        if not to.startswith("+33"):
            return 200, {
                "ids": [],
                "invalidReceivers": [to],
                "validReceivers": [],
                "totalCreditsRemoved": 0,
            }
        sms_id = self.next_id()
        segments = _segments(job["message"])
        with self.lock:
            self.sent.append({"id": str(sms_id), "to": to, "text": job["message"], "job": job})
        return 200, {
            "ids": [sms_id],
            "invalidReceivers": [],
            "validReceivers": [to],
            "totalCreditsRemoved": segments,
            "tag": job.get("tag"),
        }


class BrevoServer(ProviderServer):
    """``POST /v3/transactionalSMS/sms`` with an ``api-key`` header, JSON."""

    def __init__(self, key: str = "xkeysib-test") -> None:
        self.key = key
        super().__init__()

    def answer(self, method, path, headers, body):
        if method != "POST" or urlsplit(path).path != "/v3/transactionalSMS/sms":
            return 404, {"code": "not_found", "message": "Not found"}
        if headers.get("api-key") != self.key:
            self.refused_auth += 1
            return 401, {"code": "unauthorized", "message": "Key not found"}
        payload = json.loads(body)
        to = payload.get("recipient", "")
        if to in self.fail:
            return self.fail[to]
        if to.startswith("+") or not payload.get("sender") or not payload.get("content"):
            return 400, {"code": "invalid_parameter", "message": "recipient is invalid"}
        message_id = self.next_id()
        segments = _segments(payload["content"])
        with self.lock:
            self.sent.append(
                {"id": str(message_id), "to": to, "text": payload["content"], "payload": payload}
            )
        return 201, {
            "reference": f"ref{message_id}",
            "messageId": message_id,
            "smsCount": segments,
            "usedCredits": 0.045 * segments,
            "remainingCredits": 99.0,
        }


def _segments(text: str) -> int:
    from backoffice.services.sms_encoding import sms_parts

    return sms_parts(text)[1]
