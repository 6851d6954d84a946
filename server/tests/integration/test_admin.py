"""The admin portal's API (`/api/admin/…`; issue 8) on a server of its own.

The regional administrator (`admin`, no hospital) administers everything; `hadmin`, an
administrator of Udon Thani (10670), only Udon's users, AE titles, tokens, statistics
and audit records; every other role gets 403 with a message. Checked against
independent oracles where there is one:
- a disabled user's session cookie, API token and Basic password are refused at once,
  and a reset password replaces the old one at once (the real login and DICOMweb paths);
- an AE title added through the API can associate (dcmtk `echoscu`), and not after it
  is removed;
- the statistics' storage equals the sizes of the blob files on disk, the instance and
  study counts what was sent;
- the CSV export is parsed with Python's `csv` module (UTF-8 with BOM), and equals the
  JSON search, Thai text and quoting intact.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import requests

from dicom_factory import gen_ct
from dicomweb import DicomWeb
from dimse import Peer, echoscu
from rangsi_server import HOSPITAL_SAKON, HOSPITAL_UDON, PASSWORDS, Server

THAI_HOSPITAL = 'โรงพยาบาล "หนองคาย", สาขา 2'
POOL = "99980"


class Api:
    """One caller of the JSON API: Bearer token, Basic password, or a session cookie."""

    def __init__(self, server, *, token: str | None = None, basic: tuple[str, str] | None = None, name: str = "anon"):
        self.root = server.http_url + "/api"
        self.http = requests.Session()
        self.name = name
        if token:
            self.http.headers["Authorization"] = f"Bearer {token}"
        if basic:
            self.http.auth = basic

    def get(self, path: str, **kw) -> requests.Response:
        return self.http.get(self.root + path, timeout=60, **kw)

    def post(self, path: str, body=None, **kw) -> requests.Response:
        return self.http.post(self.root + path, json=body, timeout=60, **kw)

    def put(self, path: str, body, **kw) -> requests.Response:
        return self.http.put(self.root + path, json=body, timeout=60, **kw)

    def delete(self, path: str) -> requests.Response:
        return self.http.delete(self.root + path, timeout=60)


def check(r: requests.Response, status: int) -> dict:
    assert r.status_code == status, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    if status >= 400:
        assert r.json()["error"], f"{r.request.url}: a {status} without a message"
    return r.json() if r.content else {}


def login(server, username: str, password: str) -> requests.Session:
    s = requests.Session()
    r = s.post(server.http_url + "/api/login", json={"username": username, "password": password}, timeout=60)
    assert r.status_code == 200, f"login {username}: {r.status_code} {r.text}"
    assert s.cookies.get("rangsi_session"), "no session cookie"
    return s


@pytest.fixture(scope="module")
def srv(rangsi_bin, tmp_path_factory):
    s = Server(rangsi_bin, tmp_path_factory.mktemp("admin"))
    s.set_up_regional_archive()
    s.start()
    s.create_tokens()
    yield s
    s.stop()


@pytest.fixture(scope="module")
def admin(srv) -> Api:
    return Api(srv, token=srv.tokens["admin"], name="admin")


@pytest.fixture(scope="module")
def people(srv, admin):
    """Users of every role, made through the API by the regional administrator."""
    check(admin.post("/admin/hospitals", {"code": POOL, "name": "Regional reading pool", "province": "Udon Thani",
                                          "capabilities": ["regional-pool"]}), 201)
    made = {}
    for name, role, hospital in (
        ("hadmin", "admin", HOSPITAL_UDON),
        ("rad", "radiologist", HOSPITAL_UDON),
        ("tech", "technologist", HOSPITAL_UDON),
        ("reader", "regional_reader", POOL),
    ):
        saved = check(admin.post("/admin/users", {"username": name, "role": role, "hospital": hospital,
                                                  "password": f"{name}-Pw-123456"}), 201)
        assert saved["password"] is None, "a password the admin chose is not echoed"
        made[name] = Api(srv, basic=(name, f"{name}-Pw-123456"), name=name)
    made["alice"] = Api(srv, token=srv.tokens["alice"], name="alice")
    made["bob"] = Api(srv, token=srv.tokens["bob"], name="bob")
    made["anon"] = Api(srv, name="anon")
    return made


def test_only_administrators_reach_the_portal(admin, people):
    for who in ("alice", "rad", "tech", "reader"):
        for method, path, body in (("get", "/admin/users", None), ("get", "/admin/hospitals", None),
                                   ("get", "/admin/audit", None), ("get", "/admin/audit.csv", None),
                                   ("post", "/admin/users", {"username": "x", "role": "doctor", "hospital": HOSPITAL_UDON}),
                                   ("get", f"/admin/hospitals/{HOSPITAL_UDON}/stats", None)):
            api = people[who]
            r = api.get(path) if method == "get" else api.post(path, body)
            err = check(r, 403)["error"]
            assert "admin" in err, err
    check(people["anon"].get("/admin/users"), 401)
    # The refusals are audited.
    denied = check(admin.get("/admin/audit", params={"action": "admin-denied", "user": "rad"}), 200)["entries"]
    assert denied and all(e["outcome"] == "denied" for e in denied)


def test_a_hospital_admin_is_confined_to_their_hospital(srv, admin, people):
    h = people["hadmin"]
    assert [x["code"] for x in check(h.get("/admin/hospitals"), 200)["hospitals"]] == [HOSPITAL_UDON]
    users = check(h.get("/admin/users"), 200)["users"]
    assert {u["username"] for u in users} == {"alice", "hadmin", "rad", "tech"}
    assert {a["ae_title"] for a in check(h.get("/admin/aes"), 200)["aes"]} == {"MODA"}
    assert {t["username"] for t in check(h.get("/admin/tokens"), 200)["tokens"]} == {"alice"}
    # Not another hospital's anything, nor the region's.
    check(h.post("/admin/hospitals", {"code": "10699", "name": "X"}), 403)
    check(h.put(f"/admin/hospitals/{HOSPITAL_UDON}", {"province": "Loei"}), 403)
    check(h.put("/admin/users/bob", {"disabled": True}), 403)
    check(h.put("/admin/users/admin", {"disabled": True}), 403)
    check(h.post("/admin/users/bob/password", {}), 403)
    check(h.post("/admin/users", {"username": "sakon2", "role": "doctor", "hospital": HOSPITAL_SAKON}), 403)
    check(h.post("/admin/aes", {"ae_title": "SAKON_CT", "hospital": HOSPITAL_SAKON}), 403)
    check(h.post("/admin/tokens", {"username": "bob"}), 403)
    check(h.get(f"/admin/hospitals/{HOSPITAL_SAKON}/stats"), 403)
    check(h.get("/admin/audit", params={"hospital": HOSPITAL_SAKON}), 403)
    bob_token = next(t for t in check(admin.get("/admin/tokens"), 200)["tokens"] if t["username"] == "bob")
    check(h.delete(f"/admin/tokens/{bob_token['id']}"), 403)
    # Nor the region's shared data through the older APIs: hospital profiles, report
    # templates; turnaround figures only of their own hospital.
    r = h.http.put(srv.http_url + f"/api/hospitals/{HOSPITAL_SAKON}", json={"contact": "x"}, timeout=60)
    check(r, 403)
    check(h.post("/report-templates", {"name": "x", "lang": "en"}), 403)
    figures = check(h.get("/reports/turnaround"), 200)
    assert {row["key"] for row in figures["by_hospital"]} <= {HOSPITAL_UDON}
    # Their own hospital: a user defaults to it.
    saved = check(h.post("/admin/users", {"username": "udon-doc", "role": "doctor"}), 201)
    assert saved["user"]["hospital"] == HOSPITAL_UDON and len(saved["password"]) >= 8
    check(h.put("/admin/users/udon-doc", {"role": "technologist"}), 200)
    # Bob's activity is not in Udon's audit log.
    check(people["bob"].get("/me"), 200)
    entries = check(h.get("/admin/audit", params={"limit": 1000}), 200)["entries"]
    assert entries and all(e["actor"] != "bob" for e in entries)
    assert all(e["hospital"] in (HOSPITAL_UDON, None) for e in entries)


def test_hospitals_are_validated_and_saved(admin):
    for body, words in (
        ({"code": "1067", "name": "Short"}, "5-digit"),
        ({"code": "10a70", "name": "Letters"}, "5-digit"),
        ({"code": "106700", "name": "Long"}, "5-digit"),
        ({"code": "10690", "name": "  "}, "name"),
        ({"code": "10690", "name": "Caps", "capabilities": ["CT,MR"]}, "comma"),
        ({"code": "10690", "name": "Line", "province": "Udon\nThani"}, "province"),
    ):
        assert words in check(admin.post("/admin/hospitals", body), 400)["error"]
    check(admin.post("/admin/hospitals", {"code": "10690", "name": "X", "beds": 300}), 400)
    check(admin.post("/admin/hospitals", {"code": HOSPITAL_UDON, "name": "Again"}), 409)
    made = check(admin.post("/admin/hospitals", {
        "code": "10691", "name": THAI_HOSPITAL, "name_th": THAI_HOSPITAL, "name_en": "Nong Khai Hospital",
        "province": "Nong Khai", "capabilities": ["CT", "US", "radiologist-on-site", "CT"],
        "contact": "042-411-504"}), 201)
    assert made["capabilities"] == ["CT", "US", "radiologist-on-site"]
    check(admin.put("/admin/hospitals/10691", {"province": "บึงกาฬ", "capabilities": ["CT", "MR"]}), 200)
    check(admin.put("/admin/hospitals/10699", {"province": "Loei"}), 404)
    listed = {h["code"]: h for h in check(admin.get("/admin/hospitals"), 200)["hospitals"]}
    h = listed["10691"]
    assert (h["name"], h["province"], h["capabilities"], h["name_en"]) == (THAI_HOSPITAL, "บึงกาฬ", ["CT", "MR"],
                                                                          "Nong Khai Hospital")
    assert listed[HOSPITAL_UDON]["aes"] == 1 and listed[HOSPITAL_UDON]["users"] >= 1


def test_users_roles_and_the_regional_reader(srv, admin, people):
    check(admin.post("/admin/users", {"username": "x1", "role": "modality", "hospital": HOSPITAL_UDON}), 400)
    check(admin.post("/admin/users", {"username": "x2", "role": "doctor"}), 400)
    check(admin.post("/admin/users", {"username": "x:3", "role": "doctor", "hospital": HOSPITAL_UDON}), 400)
    check(admin.post("/admin/users", {"username": "x4", "role": "doctor", "hospital": HOSPITAL_UDON,
                                      "password": "short"}), 400)
    check(admin.post("/admin/users", {"username": "x5", "role": "doctor", "hospital": "99999"}), 404)
    err = check(admin.post("/admin/users", {"username": "x6", "role": "regional_reader",
                                            "hospital": HOSPITAL_UDON}), 400)["error"]
    assert "regional-pool" in err
    check(admin.post("/admin/users", {"username": "rad", "role": "doctor", "hospital": HOSPITAL_UDON}), 409)
    users = {u["username"]: u for u in check(admin.get("/admin/users"), 200)["users"]}
    assert users["reader"]["role"] == "radiologist" and users["reader"]["regional_reader"] is True
    assert users["reader"]["hospital"] == POOL
    assert users["rad"]["regional_reader"] is False
    assert "password_hash" not in users["rad"]
    # A generated password is answered once and works.
    saved = check(admin.post("/admin/users", {"username": "สมหญิง", "role": "doctor", "hospital": HOSPITAL_SAKON}), 201)
    login(srv, "สมหญิง", saved["password"])
    # Role changes take effect on the next request.
    check(admin.put("/admin/users/tech", {"role": "doctor"}), 200)
    assert check(people["tech"].get("/me"), 200)["role"] == "doctor"
    check(admin.put("/admin/users/tech", {"role": "technologist"}), 200)
    check(admin.put("/admin/users/tech", {"role": "chief"}), 400)
    check(admin.put("/admin/users/nobody", {"role": "doctor"}), 404)
    check(admin.put("/admin/users/admin", {"disabled": True}), 400)  # not yourself


def test_a_disabled_user_is_refused_at_once(srv, admin):
    password = "dis-Pw-123456"
    check(admin.post("/admin/users", {"username": "dis", "role": "doctor", "hospital": HOSPITAL_UDON,
                                      "password": password}), 201)
    session = login(srv, "dis", password)
    token = check(admin.post("/admin/tokens", {"username": "dis", "note": "PACS bridge"}), 201)["secret"]
    web_token = DicomWeb(srv.http_url, token=token, name="dis-token")
    web_basic = DicomWeb(srv.http_url, auth=("dis", password), name="dis-basic")
    me = srv.http_url + "/api/me"
    assert session.get(me, timeout=60).status_code == 200
    assert web_token.qido_response("/studies").status_code in (200, 204)
    assert web_basic.qido_response("/studies").status_code in (200, 204)

    check(admin.put("/admin/users/dis", {"disabled": True}), 200)
    assert session.get(me, timeout=60).status_code == 401
    assert web_token.qido_response("/studies").status_code == 401
    assert web_basic.qido_response("/studies").status_code == 401
    r = requests.post(srv.http_url + "/api/login", json={"username": "dis", "password": password}, timeout=60)
    assert r.status_code == 401
    users = {u["username"]: u for u in check(admin.get("/admin/users"), 200)["users"]}
    assert users["dis"]["disabled"] is True

    check(admin.put("/admin/users/dis", {"disabled": False}), 200)
    assert web_token.qido_response("/studies").status_code in (200, 204)
    assert session.get(me, timeout=60).status_code == 401, "a disabled user's sessions ended for good"
    login(srv, "dis", password)
    actions = {e["action"] for e in check(admin.get("/admin/audit", params={"user": "admin"}), 200)["entries"]}
    assert {"admin-user-disable", "admin-user-enable", "admin-token-create"} <= actions


def test_reset_password(srv, admin, people):
    old = "tech-Pw-123456"
    session = login(srv, "tech", old)
    basic = DicomWeb(srv.http_url, auth=("tech", old), name="tech-basic")
    assert basic.qido_response("/studies").status_code in (200, 204)  # remembered by the Basic cache
    check(admin.post("/admin/users/tech/password", {"password": "x"}), 400)
    saved = check(admin.post("/admin/users/tech/password", {"password": "tech-New-654321"}), 200)
    assert saved["password"] is None
    assert basic.qido_response("/studies").status_code == 401, "the old password stops at once"
    assert session.get(srv.http_url + "/api/me", timeout=60).status_code == 401, "sessions end"
    r = requests.post(srv.http_url + "/api/login", json={"username": "tech", "password": old}, timeout=60)
    assert r.status_code == 401
    login(srv, "tech", "tech-New-654321")
    generated = check(people["hadmin"].post("/admin/users/tech/password", {}), 200)["password"]
    assert generated and len(generated) >= 12
    login(srv, "tech", generated)
    check(admin.post("/admin/users/tech/password", {"password": old}), 200)


def test_ae_titles(srv, admin, people):
    peer = Peer(srv.dicom_host, srv.dicom_port, srv.ae_title)
    assert echoscu(peer, "UDON_US").returncode != 0, "an unknown AE is refused"
    for body in ({"ae_title": "A" * 17, "hospital": HOSPITAL_UDON},
                 {"ae_title": "BAD\\AE", "hospital": HOSPITAL_UDON},
                 {"ae_title": "", "hospital": HOSPITAL_UDON},
                 {"ae_title": "UDON_WS", "hospital": HOSPITAL_UDON, "host": "10.0.0.5"},
                 {"ae_title": "UDON_WS", "hospital": HOSPITAL_UDON, "host": "10.0.0.5", "port": 0}):
        check(admin.post("/admin/aes", body), 400)
    check(admin.post("/admin/aes", {"ae_title": "UDON_US", "hospital": "99999"}), 404)
    check(admin.post("/admin/aes", {"ae_title": "MODA", "hospital": HOSPITAL_UDON}), 409)
    made = check(people["hadmin"].post("/admin/aes", {"ae_title": "UDON_US", "hospital": HOSPITAL_UDON}), 201)
    assert made == {"ae_title": "UDON_US", "hospital": HOSPITAL_UDON, "host": None, "port": None}
    check(admin.post("/admin/aes", {"ae_title": "UDON_WS", "hospital": HOSPITAL_UDON, "host": "10.0.0.5",
                                    "port": 104}), 201)
    aes = {a["ae_title"]: a for a in check(admin.get("/admin/aes"), 200)["aes"]}
    assert aes["UDON_WS"]["port"] == 104 and aes["MODB"]["hospital"] == HOSPITAL_SAKON
    res = echoscu(peer, "UDON_US")
    assert res.returncode == 0, str(res)
    check(people["hadmin"].delete("/admin/aes/MODB"), 403)
    check(people["hadmin"].delete("/admin/aes/UDON_US"), 204)
    check(admin.delete("/admin/aes/UDON_US"), 404)
    assert echoscu(peer, "UDON_US").returncode != 0, "a removed AE is refused"


def test_tokens(srv, admin, people):
    created = check(admin.post("/admin/tokens", {"username": "rad", "expires_days": 30, "note": "เครื่องอ่านผล"}), 201)
    secret, tid = created["secret"], created["token"]["id"]
    assert secret.startswith("rgs_") and created["token"]["note"] == "เครื่องอ่านผล"
    assert created["token"]["expires_at"]
    listing = admin.get("/admin/tokens")
    assert secret not in listing.text and "secret" not in listing.text
    assert any(t["id"] == tid and t["username"] == "rad" for t in listing.json()["tokens"])
    api = Api(srv, token=secret, name="rad-token")
    assert check(api.get("/me"), 200)["username"] == "rad"
    for body in ({"username": "rad", "expires_days": 0}, {"username": "rad", "expires_days": 5000},
                 {"username": "rad", "note": "two\nlines"}):
        check(admin.post("/admin/tokens", body), 400)
    check(admin.post("/admin/tokens", {"username": "nobody"}), 404)
    check(admin.delete("/admin/tokens/abc"), 400)
    check(people["hadmin"].delete(f"/admin/tokens/{tid}"), 204)
    check(api.get("/me"), 401)
    check(admin.delete(f"/admin/tokens/{tid}"), 404)


def test_gateway_tokens_from_the_portal(srv, admin, people):
    """A hospital's gateway token made in the portal reports as that gateway; a hospital
    admin makes them for their own hospital only; others are refused."""
    made = check(admin.post("/admin/gateway-tokens", {"name": "gw-udon-1", "hospital": HOSPITAL_UDON}), 201)
    assert made["name"] == "gw-udon-1" and made["hospital"] == HOSPITAL_UDON and made["secret"].startswith("rgw_")
    gw = Api(srv, token=made["secret"], name="gw")
    r = gw.http.post(srv.http_url + "/api/gateways/status", json={"version": "t", "queue_length": 3}, timeout=60)
    assert r.status_code == 200, r.text
    (listed,) = [g for g in check(admin.get("/gateways"), 200)["gateways"] if g["name"] == "gw-udon-1"]
    assert listed["hospital_code"] == HOSPITAL_UDON and listed["report"]["queue_length"] == 3
    check(gw.get("/admin/users"), 403)  # a gateway token is no administrator
    check(people["hadmin"].post("/admin/gateway-tokens", {"name": "gw-udon-2", "hospital": HOSPITAL_UDON}), 201)
    check(people["hadmin"].post("/admin/gateway-tokens", {"name": "gw-sakon", "hospital": HOSPITAL_SAKON}), 403)
    check(people["rad"].post("/admin/gateway-tokens", {"name": "gw-x", "hospital": HOSPITAL_UDON}), 403)
    check(admin.post("/admin/gateway-tokens", {"name": "bad name!", "hospital": HOSPITAL_UDON}), 400)
    check(admin.post("/admin/gateway-tokens", {"name": "gw-udon-1", "hospital": HOSPITAL_SAKON}), 409)
    check(admin.post("/admin/gateway-tokens", {"name": "gw-y", "hospital": "99999"}), 404)
    check(admin.post("/admin/gateway-tokens", {"name": "gw-y"}), 400)
    rows = check(admin.get("/admin/audit", params={"action": "admin-gateway-token-create"}), 200)["entries"]
    assert any("gw-udon-1" in e["detail"] for e in rows)


def test_statistics_match_what_was_stored(srv, admin, people, shared_dir, tmp_path):
    studies = gen_ct(shared_dir, tmp_path, slices=3, rows=64, patient_id="ADM-STATS", seed=7, studies=2)
    alice = DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
    for s in studies:
        alice.stow_ok([f.read_bytes() for f in s.files])
    stats = check(people["hadmin"].get(f"/admin/hospitals/{HOSPITAL_UDON}/stats"), 200)
    on_disk = sum(p.stat().st_size for p in (srv.data / "blobs").rglob("*.dcm"))
    assert stats["storage_bytes"] == on_disk > 0
    assert stats["instances"] == 6 and stats["studies"] == 2
    assert len(stats["per_day"]) == 30
    today = dt.datetime.now(dt.timezone.utc).date().isoformat()
    assert stats["per_day"][-1] == {"day": today, "instances": 6}
    assert sum(d["instances"] for d in stats["per_day"]) == 6
    empty = check(admin.get(f"/admin/hospitals/{HOSPITAL_SAKON}/stats"), 200)
    assert (empty["instances"], empty["storage_bytes"], empty["studies"]) == (0, 0, 0)
    check(admin.get("/admin/hospitals/99999/stats"), 404)


def test_audit_search_and_csv_export(srv, admin, people, shared_dir, tmp_path):
    (study,) = gen_ct(shared_dir, tmp_path, slices=2, rows=64, patient_id="ADM-AUDIT", seed=9, thai=True)
    alice = DicomWeb(srv.http_url, token=srv.tokens["alice"], name="alice")
    alice.stow_ok([f.read_bytes() for f in study.files])
    alice.qido("/studies", {"PatientID": "ADM-AUDIT"})
    check(admin.post("/admin/hospitals", {"code": "10692", "name": THAI_HOSPITAL, "province": "Nong Khai"}), 201)

    by_patient = check(admin.get("/admin/audit", params={"patient": "ADM-AUDIT"}), 200)["entries"]
    assert len(by_patient) == 2 and {e["action"] for e in by_patient} == {"store"}
    assert all(e["actor"] == "alice" and e["study_uid"] == study.study_uid and e["hospital"] == HOSPITAL_UDON
               for e in by_patient)
    by_study = check(admin.get("/admin/audit", params={"study": study.study_uid, "user": "alice"}), 200)["entries"]
    assert [e["id"] for e in by_study] == [e["id"] for e in by_patient]
    today = dt.datetime.now(dt.timezone.utc).date()
    same = check(admin.get("/admin/audit", params={"patient": "ADM-AUDIT", "from": today.isoformat(),
                                                   "to": today.isoformat()}), 200)["entries"]
    assert len(same) == 2
    tomorrow = (today + dt.timedelta(days=1)).isoformat()
    assert check(admin.get("/admin/audit", params={"patient": "ADM-AUDIT", "from": tomorrow}), 200)["entries"] == []
    yesterday = (today - dt.timedelta(days=1)).isoformat()
    assert check(admin.get("/admin/audit", params={"patient": "ADM-AUDIT", "to": yesterday}), 200)["entries"] == []
    for params in ({"from": "27/11/2026"}, {"to": "2026-13-01"}, {"limit": "0"}, {"limit": "x"},
                   {"from": tomorrow, "to": yesterday}, {"colour": "red"}):
        check(admin.get("/admin/audit", params=params), 400)
    # Paging: newest first, next_offset until the end.
    first = check(admin.get("/admin/audit", params={"patient": "ADM-AUDIT", "limit": 1}), 200)
    assert len(first["entries"]) == 1 and first["next_offset"] == 1
    second = check(admin.get("/admin/audit", params={"patient": "ADM-AUDIT", "limit": 1, "offset": 1}), 200)
    assert second["next_offset"] is None and second["entries"][0]["id"] < first["entries"][0]["id"]

    # The CSV of the same filter: BOM, header, the same rows; Thai and quoting intact.
    r = admin.get("/admin/audit.csv", params={"patient": "ADM-AUDIT"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    assert r.content.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert [int(x["id"]) for x in rows] == [e["id"] for e in by_patient]
    assert [x["patient_id"] for x in rows] == ["ADM-AUDIT", "ADM-AUDIT"]
    made = check(admin.get("/admin/audit", params={"action": "admin-hospital-create"}), 200)["entries"]
    thai = [e for e in made if "10692" in e["detail"]]
    assert len(thai) == 1 and "หนองคาย" in thai[0]["detail"]
    r = admin.get("/admin/audit.csv", params={"action": "admin-hospital-create"})
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"), newline="")))
    assert [(int(x["id"]), x["detail"], x["actor"]) for x in rows] == [(e["id"], e["detail"], e["actor"]) for e in made]
    assert any("หนองคาย" in x["detail"] and "," in x["detail"] and '"' in x["detail"] for x in rows)
    check(admin.get("/admin/audit.csv", params={"from": "yesterday"}), 400)
    # Searching and exporting are audited too.
    actions = {e["action"] for e in check(admin.get("/admin/audit", params={"user": "admin", "limit": 1000}),
                                          200)["entries"]}
    assert {"admin-audit-search", "admin-audit-export", "admin-hospital-create", "admin-user-create"} <= actions
    # A hospital administrator sees accesses to their patients, not other hospitals' rows.
    udon = check(people["hadmin"].get("/admin/audit", params={"patient": "ADM-AUDIT"}), 200)["entries"]
    assert [e["id"] for e in udon] == [e["id"] for e in by_patient]
    assert check(people["hadmin"].get("/admin/audit", params={"action": "admin-hospital-create"}),
                 200)["entries"] == []
