"""`rangsi token list [--gateway NAME] [--json]` and `rangsi token revoke ID`: an
administrator on the regional server sees every API and gateway token (never a secret)
and revokes one at once — the revoked token is refused by the running server on its next
request (DICOMweb and the gateway's STOW), the others keep working, and the revocation is
audited. Bad input (an unknown id) is a clear error and changes nothing.
"""

from __future__ import annotations

import json

import pytest
import requests

from rangsi_server import HOSPITAL_SAKON, HOSPITAL_UDON, Server, index_db


@pytest.fixture(scope="module")
def srv(rangsi_bin, tmp_path_factory):
    s = Server(rangsi_bin, tmp_path_factory.mktemp("rangsi-tokens"))
    s.set_up_regional_archive()
    s.start()
    yield s
    s.stop()


def listed(srv: Server, *args: str) -> list[dict]:
    out = srv.cli("token", "list", "--json", *args).stdout.decode()
    return json.loads(out)["tokens"]


def qido_status(srv: Server, token: str) -> int:
    return requests.get(f"{srv.http_url}/dicomweb/studies", headers={"Authorization": f"Bearer {token}"},
                        timeout=30).status_code


def test_list_shows_user_and_gateway_tokens_without_secrets(srv):
    alice = srv.cli("token", "create", "--user", "alice").stdout.decode().strip()
    gw1 = srv.cli("token", "create", "--gateway", "udon-gw", "--hospital", HOSPITAL_UDON,
                  "--expires", "90").stdout.decode().strip()
    gw2 = srv.cli("token", "create", "--gateway", "sakon-gw", "--hospital", HOSPITAL_SAKON).stdout.decode().strip()
    assert gw1.startswith("rgw_") and gw2.startswith("rgw_")

    tokens = listed(srv)
    by_user = {}
    for t in tokens:
        by_user.setdefault(t["username"], []).append(t)
    assert by_user["alice"][0]["hospital"] == HOSPITAL_UDON
    assert by_user["gateway:udon-gw"][0]["hospital"] == HOSPITAL_UDON
    assert by_user["gateway:udon-gw"][0]["expires_at"], "a token made with --expires has an expiry"
    assert by_user["gateway:sakon-gw"][0]["expires_at"] is None
    # No secret anywhere in the listing, in JSON or as text.
    text = srv.cli("token", "list").stdout.decode()
    for secret in (alice, gw1, gw2):
        assert secret not in json.dumps(tokens) and secret not in text
    lines = text.strip().splitlines()
    assert lines[0].split("\t")[:4] == ["ID", "KIND", "FOR", "HOSPITAL"], lines[0]
    assert any("\tgateway udon-gw\t" in line and f"\t{HOSPITAL_UDON}\t" in line for line in lines), text
    assert any("\tuser alice\t" in line for line in lines), text

    # --gateway: that gateway's tokens only.
    only = listed(srv, "--gateway", "udon-gw")
    assert [t["username"] for t in only] == ["gateway:udon-gw"]
    assert listed(srv, "--gateway", "no-such-gw") == []


def test_revoke_refuses_the_token_at_once_and_is_audited(srv):
    keep = srv.cli("token", "create", "--user", "alice").stdout.decode().strip()
    gone = srv.cli("token", "create", "--user", "alice").stdout.decode().strip()
    gw = srv.cli("token", "create", "--gateway", "revoke-gw", "--hospital", HOSPITAL_UDON).stdout.decode().strip()
    assert qido_status(srv, gone) == 200 and qido_status(srv, keep) == 200

    alice_ids = {t["id"] for t in listed(srv) if t["username"] == "alice"}
    # The newest of alice's tokens is `gone` (ids grow).
    gone_id = max(alice_ids)
    r = srv.cli("token", "revoke", str(gone_id))
    assert f"token {gone_id} revoked" in r.stdout.decode()
    assert gone_id not in {t["id"] for t in listed(srv)}
    assert qido_status(srv, gone) == 401, "a revoked token must be refused by the running server"
    assert qido_status(srv, keep) == 200, "other tokens keep working"

    # A gateway token, by the id `token list --gateway` shows: its STOW is refused.
    (gw_token,) = listed(srv, "--gateway", "revoke-gw")
    stow = lambda: requests.post(  # noqa: E731
        f"{srv.http_url}/dicomweb/studies", data=b"--x--\r\n",
        headers={"Authorization": f"Bearer {gw}", "Content-Type": 'multipart/related; type="application/dicom"; boundary=x'},
        timeout=30).status_code
    assert stow() != 401, "the gateway token works before its revocation"
    srv.cli("token", "revoke", str(gw_token["id"]))
    assert stow() == 401
    assert listed(srv, "--gateway", "revoke-gw") == []

    with index_db(srv, readonly=True) as db:
        details = [d for (d,) in db.execute(
            "SELECT detail FROM audit_log WHERE action = 'admin-token-revoke' AND actor = 'cli' ORDER BY id")]
    assert f"token {gone_id} of alice" in details, details
    assert f"token {gw_token['id']} of gateway:revoke-gw" in details, details


def test_revoking_an_unknown_token_is_a_clear_error(srv):
    before = listed(srv)
    r = srv.cli("token", "revoke", "999999", check=False)
    assert r.returncode != 0
    assert "no token 999999" in r.stderr.decode(), r.stderr.decode()
    r = srv.cli("token", "revoke", "abc", check=False)
    assert r.returncode != 0 and "invalid" in r.stderr.decode().lower(), r.stderr.decode()
    assert listed(srv) == before, "a refused revoke changes nothing"
    assert srv.healthy()
