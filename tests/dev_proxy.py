"""Re-sends a request that ``wrangler dev``'s own proxy dropped.

``wrangler dev`` puts a proxy Worker in front of the Worker under test. When
its hop to that Worker fails at the network level (a pooled keep-alive
connection closed by the other side as the request goes out: workers-sdk
#14641), it answers a POST itself with a 503 whose body asks the client to
send the request again. That answer is the dev proxy's, never the gateway's,
and the request did not complete at the gateway: it failed a test of the
gateway's answers under load once in a CI run (test_keys_clamp, 50 parallel
requests). The test clients follow its advice here, for that exact answer
only, and count how often; the summary at the end of the run says so.

Both SDKs talk through ``httpx2``; the admin helpers through ``requests``.
"""

from __future__ import annotations

import httpx2
import requests.adapters

# wrangler's templates/startDevWorker/ProxyWorker.ts; the gateway sends no such text.
DROPPED = b"Your worker restarted mid-request. Please try sending the request again."
ATTEMPTS = 3
resent = 0


def _dropped(status: int, retry_after: str | None, body: bytes) -> bool:
    return status == 503 and retry_after == "0" and body.startswith(DROPPED)


def _resend(send, dropped, discard):
    """``send()`` again while its answer is the dev proxy's drop, at most
    ATTEMPTS times in all; the last answer is returned whatever it is."""
    global resent
    for _ in range(ATTEMPTS - 1):
        response = send()
        if not dropped(response):
            return response
        discard(response)
        resent += 1
    return send()


def _httpx2_dropped(response) -> bool:
    # Only a 503's body is read here: a stream the gateway answers stays unread.
    return response.status_code == 503 and _dropped(
        response.status_code, response.headers.get("retry-after"), response.read())


def _httpx2_handle(original):
    def handle_request(self, request):
        return _resend(lambda: original(self, request), _httpx2_dropped, lambda r: r.close())

    return handle_request


def _requests_send(original):
    def send(self, request, **kwargs):
        if kwargs.get("stream"):
            return original(self, request, **kwargs)
        return _resend(lambda: original(self, request, **kwargs),
                       lambda r: _dropped(r.status_code, r.headers.get("retry-after"), r.content),
                       lambda r: r.close())

    return send


def install() -> None:
    if getattr(httpx2.HTTPTransport, "_dx_dev_proxy", False):
        return
    httpx2.HTTPTransport.handle_request = _httpx2_handle(httpx2.HTTPTransport.handle_request)
    httpx2.HTTPTransport._dx_dev_proxy = True
    requests.adapters.HTTPAdapter.send = _requests_send(requests.adapters.HTTPAdapter.send)
