-- wrk script: POST /v1/batch with 100 Segment track events per request, every messageId unique (also across runs
-- against one server: WAYFARE_RUN prefixes the ids, so the measured run does not resend the warm-up's ids).
-- The write key comes from the WAYFARE_KEY environment variable (HTTP Basic user name, as the SDKs send it).
local counter = 0
local thread_id = 0
local run = os.getenv("WAYFARE_RUN") or "w"
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  thread_id = tid
  local key = os.getenv("WAYFARE_KEY") or ""
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Basic " .. key
end

local events = {"Menu Viewed", "Table Booked", "Order Completed", "Page Viewed"}

function request()
  counter = counter + 1
  local parts = {}
  for i = 1, 100 do
    local n = counter * 100 + i
    parts[i] = string.format(
      '{"type":"track","event":"%s","userId":"u%d","messageId":"%s%d-%d-%d","timestamp":"2026-11-20T12:00:00Z","properties":{"revenue":%d,"channel":"web","item":"Lasagne"}}',
      events[(n % 4) + 1], n % 5000, run, thread_id, counter, i, n % 50)
  end
  return wrk.format(nil, "/v1/batch", nil, '{"batch":[' .. table.concat(parts, ",") .. ']}')
end
