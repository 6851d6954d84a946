"""The viewer's study list API, `GET /api/studies` (filters, sorting by every listed
column, paging with a total, the hospital's name) and `GET /api/studies/hospitals`.

Studies are built with pydicom and sent with STOW-RS (Thai names byte for byte in
TIS-620, ISO_IR 166); the expected rows and their order are computed here in Python
from what was sent (the oracle), never read back from the server. Tenancy: another
hospital's studies are invisible unless granted; bad parameters answer 400 with a
JSON message; no credentials answer 401.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest
import requests
from pydicom.uid import generate_uid

from dicom_factory import new_image, noise_image, save, set_raw_patient_name, tis620
from rangsi_server import HOSPITAL_SAKON, HOSPITAL_UDON, index_db

# Unique per run: the session's server holds other tests' studies too.
RUN = "SL" + uuid.uuid4().hex[:6].upper()


@dataclass
class Sent:
    """One study as sent: the oracle's view of it."""

    study_uid: str
    patient_id: str
    name: str  # PN as Unicode, Family^Given
    date: str
    time: str
    accession: str
    modality: str
    description: str
    images: int
    hospital: str  # code
    hospital_name: str
    raw_tis620: bool = False


# (family, given, TIS-620 on the wire)
NAMES = [
    ("สมชาย", "ใจดี", True),
    ("สมศรี", "มีสุข", True),
    ("ประเสริฐ", "ใจดี", True),
    ("DOE", "JOHN", False),
    ("Doe", "Jane", False),
    ("SMITH", "ANNA", False),
    ("วิชัย", "สุขใจ", True),
    ("Brown", "Bob", False),
    ("สมหญิง", "รักดี", True),
    ("Adams", "Zoe", False),
    ("นภา", "ศรีสุข", True),
    ("Ortiz", "Ana", False),
]
MODALITIES = ["CT", "MR", "US", "CT", "CR", "MR", "CT", "US", "DX", "CT", "MR", "CT"]


def build(tmp, *, index: int, hospital: str, hospital_name: str, family: str, given: str,
          thai: bool, modality: str) -> tuple[Sent, list[bytes]]:
    pid = f"{RUN}-{hospital[-1]}{index:02d}"
    study_uid = generate_uid()
    # Unique dates and times: every order below is total without the server's tie-break.
    date = f"2024{(index % 12) + 1:02d}{(index * 7) % 27 + 1:02d}"
    tm = f"{8 + index % 10:02d}{(index * 13) % 60:02d}00"
    images = 1 + (index * 5) % 4
    sent = Sent(
        study_uid=study_uid, patient_id=pid, name=f"{family}^{given}", date=date, time=tm,
        accession=f"ACC{RUN}{index:03d}", modality=modality,
        description=f"{modality} study {chr(ord('A') + (index * 5) % 26)} {index}", images=images,
        hospital=hospital, hospital_name=hospital_name, raw_tis620=thai,
    )
    series_uid = generate_uid()
    files = []
    for n in range(images):
        ds = new_image(
            patient_id=pid, patient_name="PLACEHOLDER" if thai else sent.name,
            charset="ISO_IR 166" if thai else None, study_uid=study_uid, series_uid=series_uid,
            modality=modality, study_date=date, study_time=tm, accession=sent.accession,
            study_description=sent.description, instance_number=n + 1, pixels=noise_image(8, 8, seed=n),
        )
        if thai:
            set_raw_patient_name(ds, tis620(family) + b"^" + tis620(given))
        files.append(save(ds, tmp / f"{pid}-{n}.dcm").read_bytes())
    return sent, files


@pytest.fixture(scope="module")
def studies(tmp_path_factory, alice, bob) -> dict[str, list[Sent]]:
    tmp = tmp_path_factory.mktemp("study-list")
    udon, sakon = [], []
    for i, ((family, given, thai), modality) in enumerate(zip(NAMES, MODALITIES)):
        sent, files = build(tmp, index=i, hospital=HOSPITAL_UDON, hospital_name="Udon Thani",
                            family=family, given=given, thai=thai, modality=modality)
        alice.stow_ok(files)
        udon.append(sent)
    for i, (family, given, thai) in enumerate([("สมชาย", "สกล", True), ("Doe", "Sakon", False)]):
        sent, files = build(tmp, index=50 + i, hospital=HOSPITAL_SAKON, hospital_name="Sakon Nakhon",
                            family=family, given=given, thai=thai, modality="CT")
        bob.stow_ok(files)
        sakon.append(sent)
    return {"udon": udon, "sakon": sakon}


def api(user, params=None, path="/api/studies") -> requests.Response:
    return user.http.get(user.root_url + path, params=params, timeout=60)


def page(user, **params) -> dict:
    r = api(user, params)
    assert r.status_code == 200, f"{user.name}: {r.url} -> {r.status_code} {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/json")
    return r.json()


def uids(body) -> list[str]:
    return [row["study_uid"] for row in body["rows"]]


def newest_first(sent: list[Sent]) -> list[Sent]:
    return sorted(sent, key=lambda s: (s.date, s.time), reverse=True)


# --- filters -------------------------------------------------------------------------


def test_every_row_has_the_values_sent(studies, alice):
    body = page(alice, id=RUN, limit=100)
    assert body["total"] == len(studies["udon"])
    by_uid = {s.study_uid: s for s in studies["udon"]}
    assert set(uids(body)) == set(by_uid)
    for row in body["rows"]:
        s = by_uid[row["study_uid"]]
        assert row["patient_name"] == s.name
        assert row["patient_id"] == s.patient_id
        assert (row["study_date"], row["study_time"]) == (s.date, s.time)
        assert row["accession"] == s.accession
        assert row["description"] == s.description
        assert row["modalities"] == [s.modality]
        assert (row["series"], row["images"]) == (1, s.images)
        assert row["hospital"] == {"code": HOSPITAL_UDON, "name": "Udon Thani"}
        assert row["badges"] == {"reported": False, "referred": False, "consult_requested": False}


@pytest.mark.parametrize(("query", "want"), [
    ("สมช", {"สมชาย^ใจดี"}),                  # a Thai prefix of the family name
    ("ใจดี", {"สมชาย^ใจดี", "ประเสริฐ^ใจดี"}),   # the given name, any position
    ("สม ใจ", {"สมชาย^ใจดี"}),                # every word must match a part
    ("doe", {"DOE^JOHN", "Doe^Jane"}),         # Latin, any case
    ("JANE DOE", {"Doe^Jane"}),                # word order does not matter
    ("ศรี", {"นภา^ศรีสุข"}),
    ("zzz", set()),
])
def test_fuzzy_name_search_thai_and_latin(studies, alice, query, want):
    body = page(alice, name=query, id=RUN, limit=100)
    assert {row["patient_name"] for row in body["rows"]} == want
    assert body["total"] == len(want)


def test_thai_names_sent_in_tis620_are_found_in_utf8(studies, alice):
    thai = [s for s in studies["udon"] if s.raw_tis620]
    assert thai
    for s in thai:
        family = s.name.split("^")[0]
        body = page(alice, name=family, id=RUN)
        assert s.study_uid in uids(body), f"{family} (sent as TIS-620) not found"
        (row,) = [r for r in body["rows"] if r["study_uid"] == s.study_uid]
        assert row["patient_name"] == s.name


def test_id_accession_modality_and_dates(studies, alice):
    udon = studies["udon"]
    one = udon[3]
    assert uids(page(alice, id=one.patient_id)) == [one.study_uid]
    assert uids(page(alice, id=one.patient_id.lower())) == [one.study_uid], "HN prefix ignores case"
    assert uids(page(alice, accession=one.accession)) == [one.study_uid]
    assert page(alice, accession=f"ACC{RUN}")["total"] == len(udon)
    want_ct = {s.study_uid for s in udon if s.modality == "CT"}
    assert set(uids(page(alice, id=RUN, modality="ct", limit=100))) == want_ct
    lo, hi = "20240301", "20240630"
    want = [s.study_uid for s in newest_first(udon) if lo <= s.date <= hi]
    assert want, "the fixture must have studies in the range"
    assert uids(page(alice, id=RUN, **{"from": "2024-03-01", "to": "2024-06-30"}, limit=100)) == want
    assert uids(page(alice, id=RUN, **{"from": lo, "to": hi}, limit=100)) == want
    combined = [s.study_uid for s in newest_first(udon) if s.modality == "MR" and s.date >= lo]
    assert uids(page(alice, id=RUN, modality="MR", **{"from": lo}, limit=100)) == combined


def test_study_uid_list(studies, alice, bob):
    a, b = studies["udon"][0], studies["udon"][1]
    assert set(uids(page(alice, uid=f"{a.study_uid},{b.study_uid}"))) == {a.study_uid, b.study_uid}
    # Another hospital's study is simply absent (as unknown ones are).
    assert uids(page(bob, uid=f"{a.study_uid},1.2.3.999")) == []


# --- sorting and paging ----------------------------------------------------------------

SORT_KEYS = {
    "date": lambda s: (s.date, s.time),
    "name": lambda s: s.name,
    "id": lambda s: s.patient_id,
    "accession": lambda s: s.accession,
    "modality": lambda s: s.modality,
    "description": lambda s: s.description,
    "images": lambda s: s.images,
}


def oracle_order(sent: list[Sent], key: str, descending: bool) -> list[str]:
    # Ties: newest first (the server's documented tie-break).
    tie = newest_first(sent)
    return [s.study_uid for s in sorted(tie, key=SORT_KEYS[key], reverse=descending)]


@pytest.mark.parametrize("key", list(SORT_KEYS))
@pytest.mark.parametrize("descending", [False, True])
def test_sorted_by_every_column(studies, alice, key, descending):
    sort = ("-" if descending else "") + key
    got = uids(page(alice, id=RUN, sort=sort, limit=100))
    want = oracle_order(studies["udon"], key, descending)
    assert got == want, f"sort={sort}"


def test_default_order_is_newest_first(studies, alice):
    assert uids(page(alice, id=RUN, limit=100)) == [s.study_uid for s in newest_first(studies["udon"])]


def test_pages_cover_the_list_once_with_a_constant_total(studies, alice):
    want = oracle_order(studies["udon"], "name", False)
    got, totals = [], set()
    for offset in range(0, len(want) + 5, 5):
        body = page(alice, id=RUN, sort="name", offset=offset, limit=5)
        assert body["offset"] == offset and body["limit"] == 5
        assert len(body["rows"]) <= 5
        totals.add(body["total"])
        got += uids(body)
    assert got == want
    assert totals == {len(want)}
    past = page(alice, id=RUN, offset=1000)
    assert past["rows"] == [] and past["total"] == len(want)


# --- tenancy ---------------------------------------------------------------------------


def test_other_hospitals_studies_are_invisible(studies, alice, bob):
    assert page(bob, id=f"{RUN}-{HOSPITAL_UDON[-1]}")["total"] == 0
    assert page(alice, id=f"{RUN}-{HOSPITAL_SAKON[-1]}")["total"] == 0
    bobs = page(bob, id=RUN, limit=100)
    assert set(uids(bobs)) == {s.study_uid for s in studies["sakon"]}
    assert {r["hospital"]["name"] for r in bobs["rows"]} == {"Sakon Nakhon"}
    # A Thai name both hospitals have: each sees only its own patient.
    assert {r["patient_name"] for r in page(alice, name="สมชาย", id=RUN)["rows"]} == {"สมชาย^ใจดี"}
    assert {r["patient_name"] for r in page(bob, name="สมชาย", id=RUN)["rows"]} == {"สมชาย^สกล"}
    # Naming the other hospital does not widen the view.
    assert page(bob, id=RUN, hospital=HOSPITAL_UDON)["total"] == 0


def test_regional_admin_sees_every_hospital_and_filters_by_one(studies, admin):
    everything = studies["udon"] + studies["sakon"]
    body = page(admin, id=RUN, sort="hospital", limit=100)
    assert body["total"] == len(everything)
    # Hospital order by name (Sakon Nakhon < Udon Thani), newest first within one.
    want = [s.study_uid for s in sorted(newest_first(everything), key=lambda s: s.hospital_name)]
    assert uids(body) == want
    assert [r["hospital"]["name"] for r in body["rows"]][:2] == ["Sakon Nakhon"] * 2
    only = page(admin, id=RUN, hospital=HOSPITAL_SAKON, limit=100)
    assert set(uids(only)) == {s.study_uid for s in studies["sakon"]}
    names = {h["code"]: h["name"] for h in api(admin, path="/api/studies/hospitals").json()["hospitals"]}
    assert names[HOSPITAL_UDON] == "Udon Thani" and names[HOSPITAL_SAKON] == "Sakon Nakhon"


def test_a_grant_shows_the_study_with_its_hospital(server, studies, alice, bob):
    granted = studies["udon"][5]
    r = api(bob, path="/api/studies/hospitals")
    assert r.status_code == 200
    assert HOSPITAL_UDON not in {h["code"] for h in r.json()["hospitals"]}
    con = index_db(server)
    try:
        (study_ref,) = con.execute("SELECT id FROM studies WHERE study_uid = ?", (granted.study_uid,)).fetchone()
        (sakon,) = con.execute("SELECT id FROM hospitals WHERE code = ?", (HOSPITAL_SAKON,)).fetchone()
        con.execute("INSERT INTO grants (grantee_hospital, study_ref, reason, created_at) "
                    "VALUES (?, ?, 'study list test', '2026-01-01T00:00:00Z')", (sakon, study_ref))
        con.commit()
        body = page(bob, id=RUN, limit=100)
        assert granted.study_uid in uids(body)
        (row,) = [r for r in body["rows"] if r["study_uid"] == granted.study_uid]
        assert row["hospital"] == {"code": HOSPITAL_UDON, "name": "Udon Thani"}
        assert body["total"] == len(studies["sakon"]) + 1
        hospitals = {h["code"] for h in api(bob, path="/api/studies/hospitals").json()["hospitals"]}
        assert {HOSPITAL_UDON, HOSPITAL_SAKON} <= hospitals
        assert uids(page(bob, id=RUN, hospital=HOSPITAL_UDON)) == [granted.study_uid]
    finally:
        con.execute("UPDATE grants SET revoked_at = '2026-01-02T00:00:00Z' WHERE study_ref = ?", (study_ref,))
        con.commit()
        con.close()
    assert granted.study_uid not in uids(page(bob, id=RUN, limit=100))


# --- bad input, no credentials, audit -----------------------------------------------------


@pytest.mark.parametrize("params", [
    {"sort": "shoe-size"},
    {"sort": "-"},
    {"from": "2024-13-01"},
    {"to": "yesterday"},
    {"from": "20240201", "to": "20240101"},
    {"limit": "100000"},
    {"limit": "ten"},
    {"offset": "-1"},
    {"modality": "CT' OR '1'='1"},
    {"uid": "1.2.abc"},
    {"name": "x" * 300},
    {"nmae": "typo"},
    [("id", "A"), ("id", "B")],
])
def test_bad_parameters_answer_400_with_a_message(studies, alice, params):
    r = api(alice, params)
    assert r.status_code == 400, f"{params}: {r.status_code} {r.text[:200]}"
    assert r.json()["error"], r.text


def test_without_credentials_401(server):
    for path in ["/api/studies", "/api/studies/hospitals"]:
        r = requests.get(server.http_url + path, timeout=30)
        assert r.status_code == 401, f"{path}: {r.status_code}"
        r = requests.get(server.http_url + path, headers={"Authorization": "Bearer nope"}, timeout=30)
        assert r.status_code == 401


def test_searches_are_audited(server, studies, alice):
    marker = f"{RUN}-AUDIT"
    page(alice, id=marker)
    con = index_db(server, readonly=True)
    try:
        for _ in range(100):
            rows = con.execute(
                "SELECT actor, protocol, action, detail, outcome FROM audit_log WHERE detail LIKE ?",
                (f"%id={marker}%",)).fetchall()
            if rows:
                break
            time.sleep(0.05)
    finally:
        con.close()
    assert rows, "no audit record for the study list search"
    actor, protocol, action, detail, outcome = rows[0]
    assert (actor, protocol, action, outcome) == ("alice", "api", "query", "ok")
    assert "total=0" in detail
