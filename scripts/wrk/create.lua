-- wrk: create synthetic patients (8 PHI fields each); ids of created records
-- are appended to "$PV_IDS.<thread>" for the read run.
local token = os.getenv("PV_TOKEN")
local ids_path = os.getenv("PV_IDS")
local threads, counter = {}, 0

function setup(thread)
  counter = counter + 1
  thread:set("tid", counter)
  table.insert(threads, thread)
end

function init(args)
  math.randomseed(os.time() * 1000 + tid)
  out = io.open(ids_path .. "." .. tid, "a")
end

local function patient()
  local n = math.random(1, 999999999)
  return string.format(
    '{"fields":{"name":"Patient %d","birth_date":"%04d-%02d-%02d",' ..
    '"ssn":"%03d-%02d-%04d","mrn":"MRN-%09d","address":"%d Main St, Springfield, MA 01101",' ..
    '"phone":"(617) %03d-%04d","email":"p%d@example.org","notes":"synthetic patient for load testing"}}',
    n, math.random(1940, 2010), math.random(1, 12), math.random(1, 28),
    math.random(100, 665), math.random(1, 99), math.random(1, 9999), n,
    math.random(1, 999), math.random(200, 999), math.random(0, 9999), n)
end

request = function()
  return wrk.format("POST", "/v1/collections/patients/records",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
    patient())
end

response = function(status, headers, body)
  if status == 201 then
    local id = string.match(body, '"id":"([^"]+)"')
    if id then out:write(id, "\n") end
  else
    errors_seen = (errors_seen or 0) + 1
  end
end

function done(summary, latency, requests)
  local bad = summary.errors.status
  io.write(string.format("non-2xx responses: %d\n", bad))
end
