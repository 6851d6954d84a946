"""Side harness for C-STORE ingest (BENCHMARKS.md, run of 2026-11-27 05:06): rangsi
binaries (e.g. main and a branch, both release builds) and Orthanc, alternating round by
round so that all see the same machine load, each round on fresh data.

    python ingest_ab.py ct300 6 old=/tmp/rangsi-old new=/tmp/rangsi-new orthanc
    N_SMALL=1000 python ingest_ab.py small 3 old=... new=... orthanc

"ct300": the bench's 300 x 512^2 CT over one storescu association; "small": the first
N_SMALL one-slice 64^2 studies over 4 storescu in parallel. Needs the data that
`cargo xtask bench server` caches in ~/.cache/rangsi/bench-data, dcmtk and Orthanc.
Prints inst/s per round, the server's CPU per instance (/proc/PID/stat) and the load,
then the median (min-max) per server. Not run by any test.
"""
import os, sys, subprocess, time, shutil, tempfile, json, socket, statistics, re
DATA = os.path.expanduser("~/.cache/rangsi/bench-data")
SCR = os.path.expanduser("~/.cache/rangsi/ingest-h")
os.makedirs(SCR, exist_ok=True)
ENV = dict(os.environ, TCP_NODELAY="1")

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def start_rangsi(bin):
    d = tempfile.mkdtemp(dir=SCR, prefix="r-")
    env = dict(ENV, RANGSI_DATA=d + "/data", RANGSI_LOG="warn", RANGSI_ADMIN_PASSWORD="bench-admin-password")
    subprocess.run([bin, "hospital", "add", "99999", "Bench"], env=env, check=True, capture_output=True)
    subprocess.run([bin, "ae", "add", "BENCH", "--hospital", "99999"], env=env, check=True, capture_output=True)
    p = subprocess.Popen([bin, "serve", "--http", "127.0.0.1:0", "--dicom", "127.0.0.1:0"], env=env,
                         stdout=subprocess.PIPE, stderr=open(d + "/log", "w"), text=True)
    port = None
    while port is None:
        line = p.stdout.readline()
        if not line: raise SystemExit("rangsi died: " + open(d + "/log").read())
        m = re.match(r"rangsi: dicom listening on [\d.]+:(\d+) as AE (\S+)", line)
        if m: port, ae = int(m.group(1)), m.group(2)
    return p, d, port, ae

def start_orthanc():
    d = tempfile.mkdtemp(dir=SCR, prefix="o-")
    hp, dp = free_port(), free_port()
    cfg = {"Name": "o", "StorageDirectory": d + "/storage", "IndexDirectory": d + "/index", "StorageCompression": False,
           "HttpServerEnabled": True, "HttpPort": hp, "RemoteAccessAllowed": False, "AuthenticationEnabled": False,
           "DicomServerEnabled": True, "DicomAet": "ORTHANC", "DicomPort": dp, "DicomCheckCalledAet": False,
           "TcpNoDelay": True, "DicomModalities": {"bench": ["BENCH", "127.0.0.1", 104]}, "SaveJobs": False}
    json.dump(cfg, open(d + "/o.json", "w"))
    p = subprocess.Popen(["Orthanc", d + "/o.json"], cwd=d, env=ENV, stdout=open(d + "/log", "w"), stderr=subprocess.STDOUT)
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", dp), 0.2).close(); break
        except OSError: time.sleep(0.1)
    time.sleep(0.5)
    return p, d, dp, "ORTHANC"

def storescu(port, ae, inputs, extra=()):
    cmd = ["storescu", "-aet", "BENCH", "-aec", ae, "127.0.0.1", str(port), "+sd", *extra, "+sp", "*.dcm", *inputs]
    r = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    bad = [l for l in r.stderr.splitlines() if l.startswith("E:")]
    if bad: print("storescu:", bad[0], file=sys.stderr)

def cpu_of(pid):
    with open(f"/proc/{pid}/stat") as f: parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")

def one(kind, bin, case):
    p, d, port, ae = start_orthanc() if kind == "orthanc" else start_rangsi(bin)
    try:
        c0 = cpu_of(p.pid); t0 = time.perf_counter()
        if case == "ct300":
            storescu(port, ae, [DATA + "/ct300"]); n = 300
        else:
            studies = sorted(x for x in os.listdir(DATA + "/qido9500") if x.startswith("study"))[:N_SMALL]
            groups = [studies[i::4] for i in range(4)]
            ps = [subprocess.Popen(["storescu", "-aet", "BENCH", "-aec", ae, "127.0.0.1", str(port), "+sd", "+r", "+sp", "*.dcm",
                                    *[DATA + "/qido9500/" + s for s in g]], env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for g in groups]
            for q in ps: q.wait()
            n = len(studies)
        secs = time.perf_counter() - t0; cpu = cpu_of(p.pid) - c0
        return n / secs, cpu / n * 1000
    finally:
        p.terminate(); p.wait(); shutil.rmtree(d, ignore_errors=True)

N_SMALL = int(os.environ.get("N_SMALL", "1000"))
if __name__ == "__main__":
    case = sys.argv[1]; rounds = int(sys.argv[2]); peers = sys.argv[3:]  # label=bin or orthanc
    res = {x: [] for x in peers}
    for r in range(rounds):
        for x in peers:
            label, _, bin = x.partition("=")
            rate, cpu = one("orthanc" if label == "orthanc" else "rangsi", bin, case)
            res[x].append((rate, cpu))
            print(f"round {r} {label}: {rate:.0f} inst/s, server CPU {cpu:.2f} ms/inst, load {os.getloadavg()[0]:.2f}", flush=True)
    for x, v in res.items():
        print(f"{x.partition('=')[0]}: median {statistics.median(a for a,_ in v):.0f} inst/s ({min(a for a,_ in v):.0f}-{max(a for a,_ in v):.0f}), CPU {statistics.median(b for _,b in v):.2f} ms/inst")
