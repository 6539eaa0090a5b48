"""The panel's page at ``/embed?room=...``: one room, checked as the panel reads it, and a
Content-Security-Policy no request header can write into. In-process app."""

from __future__ import annotations


def test_the_page_names_its_sockets_by_a_plain_host(start):
    _, _, client = start()
    r = client.get("/embed", params={"room": "match:1"}, headers={"Host": "chat.example.com:8443"})
    assert r.status_code == 200, r.text
    csp = r.headers["content-security-policy"]
    assert "connect-src 'self' ws://chat.example.com:8443 wss://chat.example.com:8443;" in csp
    assert r.headers["x-content-type-options"] == "nosniff"


def test_a_host_header_cannot_add_directives(start):
    _, _, client = start()
    # Accepted as a Host by the HTTP stack; in the policy the first of two directives wins.
    r = client.get("/embed", params={"room": "match:1"}, headers={"Host": "x;frame-ancestors"})
    assert r.status_code == 200, r.text
    csp = r.headers["content-security-policy"]
    assert "connect-src 'self' ;" in csp and csp.count("frame-ancestors") == 1


def test_a_repeated_room_is_refused(start):
    """The page would check the last value and the panel read the first."""
    _, _, client = start()
    r = client.get("/embed?room=not-a-room&room=match:1")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["at"] == "$.room" and "given 2 times" in r.json()["error"]["message"]
    assert client.get("/embed?room=match:1").status_code == 200
