//! `cargo xtask bench studylist`: the viewer's study list API (`GET /api/studies`) on
//! 100,000 studies in 10 hospitals (one of them with 30,000): p50 / p99 latency of the
//! typical searches and sorts, as a hospital doctor and as the regional admin, against
//! the release build of `rangsi serve`.
//!
//! The index is created by `rangsi` itself (its migrations, its CLI for hospitals and
//! users); the 100,000 study rows (60,000 patients, Thai and Latin names, their
//! `name_search` keys as ingest writes them) are then bulk-inserted with SQL, since
//! sending 100,000 files through C-STORE would take most of an hour and measure ingest,
//! not the list. The client is Python `requests` (the venv's), one keep-alive session.

use std::fs;
use std::process::Command;

use anyhow::{Result, ensure};

use super::Scratch;
use crate::process;
use crate::setup::{self, Paths};

const STUDIES: u32 = 100_000;
/// Requests per figure (after 3 warm-ups); p99 of 100 is the second slowest.
const REQUESTS: u32 = 100;

const SCRIPT: &str = r#"
import json, os, random, sqlite3, subprocess, sys, time
import requests

bin_, data, studies, requests_per = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
env = {**os.environ, "RANGSI_DATA": data, "RANGSI_LOG": "warn", "RANGSI_ADMIN_PASSWORD": "bench-admin-Pw-1"}
def cli(*args, stdin=None):
    return subprocess.run([bin_, *args], env=env, input=stdin, capture_output=True, text=True, check=True).stdout.strip()

HOSPITALS = [(f"{11000 + i}", f"โรงพยาบาลทดสอบ {i}") for i in range(10)]
for code, name in HOSPITALS:
    cli("hospital", "add", code, name)
cli("user", "add", "doctor", "--hospital", HOSPITALS[0][0], "--role", "radiologist", "--password-stdin", stdin="bench-doctor-Pw-1\n")
cli("user", "add", "admin2", "--role", "admin", "--password-stdin", stdin="bench-admin2-Pw-1\n")

rng = random.Random(8)
THAI_FAMILY = ["ใจดี", "สุขสม", "ศรีสุข", "วงศ์ใหญ่", "แก้วมณี", "ทองดี", "บุญมา", "สมบูรณ์", "พรหมมา", "จันทร์เพ็ญ", "มีสุข", "รักไทย"]
THAI_GIVEN = ["สมชาย", "สมศรี", "สมหญิง", "ประเสริฐ", "วิชัย", "นภา", "สุดา", "อนุชา", "กมล", "ปราณี", "ชัยวัฒน์", "มาลี"]
LATIN_FAMILY = ["SMITH", "JOHNSON", "BROWN", "NGUYEN", "TANAKA", "MULLER", "GARCIA", "KIM", "SINGH", "WONG"]
LATIN_GIVEN = ["JOHN", "MARY", "ANNA", "PETER", "SARAH", "DAVID", "LINDA", "JAMES", "EMMA", "LEO"]
MODS = ["CT", "CT", "CR", "CR", "DX", "MR", "US", "US", "MG", "CR\\DX", "CT\\SR", "XA"]
DESCS = ["CT BRAIN", "CT CHEST ABDOMEN", "CHEST PA", "KNEE AP LAT", "MRI L-SPINE", "US ABDOMEN", "MAMMOGRAM", "CTA NECK", "SKULL", "HAND"]

def name_search(pn):
    out = ""
    for t in pn.replace("^", " ").replace("=", " ").replace(",", " ").split(" "):
        if t:
            out += " " + t.lower()
    return out

db = sqlite3.connect(os.path.join(data, "index.sqlite"))
db.execute("PRAGMA synchronous=OFF")
ids = {code: hid for hid, code in db.execute("SELECT id, code FROM hospitals")}
weights = [30] + [70 / 9] * 9
started = time.time()
patients = []
for n in range(studies * 6 // 10):
    code = rng.choices([c for c, _ in HOSPITALS], weights)[0]
    if rng.random() < 0.7:
        pn = f"{rng.choice(THAI_FAMILY)}^{rng.choice(THAI_GIVEN)}"
    else:
        pn = f"{rng.choice(LATIN_FAMILY)}^{rng.choice(LATIN_GIVEN)}"
    patients.append((n + 1, ids[code], f"HN{n:07d}", pn, name_search(pn), f"19{rng.randint(30, 99)}0101", rng.choice("MF")))
db.executemany("INSERT INTO patients (id, hospital_id, patient_id, patient_name, name_search, birth_date, sex) VALUES (?,?,?,?,?,?,?)", patients)
import datetime
today = datetime.date.today()
rows = []
for n in range(studies):
    p = rng.choice(patients)
    day = today - datetime.timedelta(days=rng.randint(0, 1800))
    mods = rng.choice(MODS)
    rows.append((n + 1, p[1], p[0], f"1.2.826.0.1.3680043.10.999.{n}", day.strftime("%Y%m%d"),
                 f"{rng.randint(7, 19):02d}{rng.randint(0, 59):02d}{rng.randint(0, 59):02d}", f"A{n:08d}",
                 rng.choice(DESCS), mods, rng.randint(1, 6), rng.randint(1, 800), "2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z"))
db.executemany("INSERT INTO studies (id, hospital_id, patient_ref, study_uid, study_date, study_time, accession, description, modalities, num_series, num_instances, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
db.commit()
own = db.execute("SELECT COUNT(*) FROM studies WHERE hospital_id = ?", (ids[HOSPITALS[0][0]],)).fetchone()[0]
db.close()
fill = time.time() - started

tokens = {u: cli("token", "create", "--user", u) for u in ("doctor", "admin2")}
server = subprocess.Popen([bin_, "serve", "--http", "127.0.0.1:0", "--dicom", "127.0.0.1:0"], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
url = None
while url is None:
    line = server.stdout.readline()
    if not line:
        sys.exit("rangsi serve exited")
    if line.startswith("rangsi: http listening on "):
        url = line.split()[-1].rstrip("/")

d30 = (today - datetime.timedelta(days=29)).strftime("%Y%m%d")
d7 = (today - datetime.timedelta(days=6)).strftime("%Y%m%d")
t = today.strftime("%Y%m%d")
CASES = [
    ("doctor", "newest first, page 1", {}),
    ("doctor", "newest first, page 40", {"offset": 975}),
    ("doctor", "sort by patient name", {"sort": "name"}),
    ("doctor", "sort by patient name desc, page 10", {"sort": "-name", "offset": 225}),
    ("doctor", "sort by HN", {"sort": "id"}),
    ("doctor", "sort by images desc", {"sort": "-images"}),
    ("doctor", "sort by description", {"sort": "description"}),
    ("doctor", "sort by modality", {"sort": "modality"}),
    ("doctor", "Thai name, two words (สม ใจ)", {"name": "สม ใจ"}),
    ("doctor", "Thai name, one word (ประเสริฐ), by name", {"name": "ประเสริฐ", "sort": "name"}),
    ("doctor", "Latin name (john)", {"name": "john"}),
    ("doctor", "HN prefix (HN00012)", {"id": "HN00012"}),
    ("doctor", "accession prefix (A0000)", {"accession": "A0000"}),
    ("doctor", "last 30 days, CT", {"from": d30, "to": t, "modality": "CT"}),
    ("doctor", "today", {"from": t, "to": t}),
    ("admin2", "region: newest first", {}),
    ("admin2", "region: sort by hospital", {"sort": "hospital"}),
    ("admin2", "region: sort by patient name", {"sort": "name"}),
    ("admin2", "region: Thai name (สมชาย)", {"name": "สมชาย"}),
    ("admin2", "region: one hospital, last 7 days", {"hospital": "11003", "from": d7, "to": t}),
    ("admin2", "region: hospitals list", None),
]
print(f"| search ({studies:,} studies; the doctor's hospital has {own:,}) | user | total | p50 ms | p99 ms |")
print("|---|---|---:|---:|---:|")
for user, label, params in CASES:
    s = requests.Session()
    s.headers["Authorization"] = f"Bearer {tokens[user]}"
    path = "/api/studies/hospitals" if params is None else "/api/studies"
    times, total = [], ""
    for k in range(requests_per + 3):
        t0 = time.perf_counter()
        r = s.get(url + path, params=params, timeout=60)
        dt = (time.perf_counter() - t0) * 1000
        assert r.status_code == 200, (label, r.status_code, r.text[:200])
        if k >= 3:
            times.append(dt)
    body = r.json()
    total = body.get("total", len(body.get("hospitals", [])))
    times.sort()
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    print(f"| {label} | {'doctor' if user == 'doctor' else 'admin'} | {total:,} | {p50:.1f} | {p99:.1f} |", flush=True)
server.terminate()
server.wait(30)
print(f"\n(filled {studies:,} studies and {len(patients):,} patients by SQL in {fill:.1f} s)")
"#;

pub fn main(paths: &Paths, args: &[String]) -> Result<()> {
    ensure!(args.is_empty(), "`bench studylist` takes no arguments");
    setup::venv(paths)?;
    let bin = paths.build_rangsi(true)?;
    let work = Scratch::new("bench-studylist")?;
    let data = work.path().join("data");
    let script = work.path().join("studylist.py");
    fs::write(&script, SCRIPT)?;
    println!("bench studylist: {STUDIES} studies, {REQUESTS} requests per figure");
    let table = process::capture(
        Command::new(paths.python())
            .arg(&script)
            .arg(&bin)
            .arg(&data)
            .arg(STUDIES.to_string())
            .arg(REQUESTS.to_string()),
        None,
    )?;
    let report = format!(
        "{} on {}; rangsi release build, `cargo xtask bench studylist`\n\n{table}\n",
        super::today(),
        super::machine()
    );
    let out = paths.target_dir.join("bench-studylist.md");
    fs::write(&out, &report)?;
    println!("{report}\nwritten to {}", out.display());
    Ok(())
}
