-- wrk script for `cargo xtask bench server`: WADO-RS frame retrieval.
-- Rotates over every frame URL listed (one path per line) in the file named by
-- RANGSI_BENCH_PATHS, sends RANGSI_BENCH_ACCEPT as the Accept header (the stored
-- transfer syntax, `transfer-syntax=*`, when unset) and RANGSI_BENCH_AUTH as the
-- Authorization header when set, and prints one RESULT line of key=value pairs for
-- xtask to parse.

local auth = os.getenv("RANGSI_BENCH_AUTH")
if auth and auth ~= "" then
  wrk.headers["Authorization"] = auth
end
local accept = os.getenv("RANGSI_BENCH_ACCEPT")
if not accept or accept == "" then
  accept = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
end
wrk.headers["Accept"] = accept

local paths = {}
for line in io.lines(os.getenv("RANGSI_BENCH_PATHS")) do
  if line ~= "" then paths[#paths + 1] = line end
end

local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d non2xx=%d connect=%d read=%d write=%d timeout=%d\n",
    summary.requests, summary.duration, summary.bytes,
    latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
