-- wrk script of the `http` benchmark (bench/http.py), one wrk thread (-t1), so one Lua
-- state and one counter for all connections. Configured by the environment:
--   BENCH_WRK_TOKEN, BENCH_WRK_TENANT  Authorization: Bearer <token>, X-Tenant-ID
--   BENCH_WRK_MODE   get:     GET the URL's path, unchanged
--                    ids:     GET BENCH_WRK_PATH .. <id>, walking BENCH_WRK_IDS round
--                    create:  POST BENCH_WRK_PATH a draft of two lines for a vendor of
--                             BENCH_WRK_IDS (in turn), numbered BENCH_WRK_TAG-N<n>: unique
--                             once folded as duplicates are compared (the letter keeps
--                             W1-N53 and W15-N3 apart: without it both fold to w153);
--                             with BENCH_WRK_IDEMPOTENCY=1 also a unique Idempotency-Key
--                    approve: POST BENCH_WRK_PATH .. <id> .. "/approve" with If-Match
--                             BENCH_WRK_IF_MATCH, each id of BENCH_WRK_IDS once (past the
--                             end it starts over, and the app answers 409: counted)
--   BENCH_WRK_IDS    a file of ids, one a line
-- done() prints one line, `BENCH_WRK {json}`, that bench/http.py reads.

local mode = os.getenv("BENCH_WRK_MODE") or "get"
local path = os.getenv("BENCH_WRK_PATH") or "/"
local tag = os.getenv("BENCH_WRK_TAG") or "W"
local keyed = os.getenv("BENCH_WRK_IDEMPOTENCY") == "1"
local if_match = os.getenv("BENCH_WRK_IF_MATCH")

wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_WRK_TOKEN") or "")
wrk.headers["X-Tenant-ID"] = os.getenv("BENCH_WRK_TENANT") or ""

local ids = {}
local ids_file = os.getenv("BENCH_WRK_IDS")
if ids_file then
  for line in io.lines(ids_file) do
    if line ~= "" then
      ids[#ids + 1] = line
    end
  end
end

local n = 0
local function next_id()
  n = n + 1
  return ids[(n - 1) % #ids + 1]
end

local CREATE = '{"vendor_id": "%s", "number": "%s-N%d", "issue_date": "2025-03-14",'
  .. ' "po_number": "PO-7781", "lines": ['
  .. '{"description": "Hosting, March", "quantity": "1", "unit_price": "120.00",'
  .. ' "tax_rate": "0.19"},'
  .. '{"description": "Support hours", "quantity": "3", "unit_price": "45.50",'
  .. ' "tax_rate": "0.19"}]}'

if mode == "ids" then
  function request()
    return wrk.format("GET", path .. next_id())
  end
elseif mode == "create" then
  wrk.headers["Content-Type"] = "application/json"
  function request()
    local vendor = next_id()
    if keyed then
      wrk.headers["Idempotency-Key"] = tag .. "-" .. n
    end
    return wrk.format("POST", path, nil, string.format(CREATE, vendor, tag, n))
  end
elseif mode == "approve" then
  wrk.headers["If-Match"] = if_match
  function request()
    return wrk.format("POST", path .. next_id() .. "/approve")
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'BENCH_WRK {"requests": %d, "duration_us": %d, "p50_us": %.0f, "p90_us": %.0f,'
      .. ' "p99_us": %.0f, "max_us": %.0f, "connect": %d, "read": %d, "write": %d,'
      .. ' "status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, errors.connect, errors.read, errors.write,
    errors.status, errors.timeout
  ))
end
