-- wrk script: POST one fixed JSON body; at the end, write the figures as JSON.
--
-- Environment:
--   BENCH_BODY_FILE  the request body (required)
--   BENCH_AUTH       the Authorization header value (required)
--   BENCH_WRK_JSON   where done() writes its JSON (required)
--   BENCH_WRK_MODE   "exact" (default) or "fast"
--   BENCH_WRK_SAMPLES  exact mode: also write every latency (us), in order, here
--
-- Why "exact": wrk 4 applies a coordinated-omission correction to its latency
-- histogram before anyone sees it (stats_correct() in wrk.c: every sample
-- longer than twice the mean interval between requests adds synthetic samples
-- down to that interval). At c=1, one 100 ms scheduling hiccup among 10,000
-- requests of 0.5 ms turns into ~200 synthetic samples, so wrk's own p99 then
-- reports the hiccup, not the gateway. In exact mode this script times every
-- request itself (CLOCK_MONOTONIC through LuaJIT's ffi, from request() --
-- called right before wrk writes the request -- to response()) and reports
-- those percentiles as "latency_us"; wrk's corrected ones are kept as
-- "wrk_latency_us". Exact timing pairs request() with the next response(), so
-- it is only right with one connection per thread: use it for c=1.
--
-- "fast" defines neither request() nor response(), so wrk runs at full speed
-- with a static request (for the throughput runs); only wrk's own figures and
-- its non-2xx/3xx count are reported.

local function need(name)
  local v = os.getenv(name)
  if v == nil or v == "" then
    error("post.lua: environment variable " .. name .. " is required")
  end
  return v
end

local f = assert(io.open(need("BENCH_BODY_FILE"), "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = need("BENCH_AUTH")

local mode = os.getenv("BENCH_WRK_MODE") or "exact"
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

if mode == "exact" then
  local ffi = require("ffi")
  ffi.cdef [[
    typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
    int clock_gettime(int clk_id, bench_timespec *tp);
  ]]
  local ts = ffi.new("bench_timespec")
  local CLOCK_MONOTONIC = 1
  local function now_us()
    ffi.C.clock_gettime(CLOCK_MONOTONIC, ts)
    return tonumber(ts.tv_sec) * 1000000 + tonumber(ts.tv_nsec) / 1000
  end

  local req = nil
  local t0 = nil
  samples = {}   -- globals: done() reads them through thread:get()
  statuses = {}
  unpaired = 0

  function request()
    if req == nil then req = wrk.format() end
    t0 = now_us()
    return req
  end

  function response(status, headers, body)
    local t1 = now_us()
    if t0 ~= nil then
      samples[#samples + 1] = t1 - t0
      t0 = nil
    else
      unpaired = unpaired + 1
    end
    local k = tostring(status)
    statuses[k] = (statuses[k] or 0) + 1
  end
end

local function pct(sorted, p)
  local n = #sorted
  if n == 0 then return 0 end
  local i = math.ceil(p / 100 * n)
  if i < 1 then i = 1 end
  if i > n then i = n end
  return sorted[i]
end

function done(summary, latency, requests)
  local out = assert(io.open(need("BENCH_WRK_JSON"), "w"))
  local e = summary.errors
  local secs = summary.duration / 1e6
  out:write(string.format(
    '{"mode":"%s","requests":%d,"duration_s":%.6f,"bytes":%d,"rps":%.3f,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"wrk_latency_us":{"min":%d,"mean":%.3f,"stdev":%.3f,"max":%d,' ..
    '"p50":%d,"p75":%d,"p90":%d,"p99":%d,"p99_9":%d}',
    mode, summary.requests, secs, summary.bytes, summary.requests / secs,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.min, latency.mean, latency.stdev, latency.max,
    latency:percentile(50), latency:percentile(75), latency:percentile(90),
    latency:percentile(99), latency:percentile(99.9)))
  if mode == "exact" then
    local all, st, unp = {}, {}, 0
    for _, t in ipairs(threads) do
      for _, v in ipairs(t:get("samples") or {}) do all[#all + 1] = v end
      for k, v in pairs(t:get("statuses") or {}) do st[k] = (st[k] or 0) + v end
      unp = unp + (t:get("unpaired") or 0)
    end
    local dump = os.getenv("BENCH_WRK_SAMPLES")
    if dump ~= nil and dump ~= "" then  -- raw per-request latencies, in order, one per line
      local sf = assert(io.open(dump, "w"))
      for _, v in ipairs(all) do sf:write(string.format("%.1f\n", v)) end
      sf:close()
    end
    table.sort(all)
    local sum = 0
    for _, v in ipairs(all) do sum = sum + v end
    local parts = {}
    for k, v in pairs(st) do parts[#parts + 1] = string.format('"%s":%d', k, v) end
    out:write(string.format(
      ',"statuses":{%s},"unpaired":%d,"latency_us":{"n":%d,"min":%.1f,"mean":%.1f,"max":%.1f,' ..
      '"p50":%.1f,"p75":%.1f,"p90":%.1f,"p99":%.1f,"p99_9":%.1f}',
      table.concat(parts, ","), unp, #all, all[1] or 0, #all > 0 and sum / #all or 0, all[#all] or 0,
      pct(all, 50), pct(all, 75), pct(all, 90), pct(all, 99), pct(all, 99.9)))
  end
  out:write("}\n")
  out:close()
end
