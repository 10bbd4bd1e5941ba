-- wrk: read random patients created by create.lua (ids from "$PV_IDS").
local token = os.getenv("PV_TOKEN")
local ids = {}
for line in io.lines(os.getenv("PV_IDS")) do ids[#ids + 1] = line end

function init(args)
  math.randomseed(os.time())
end

request = function()
  local id = ids[math.random(1, #ids)]
  return wrk.format("GET", "/v1/collections/patients/records/" .. id,
    { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
  io.write(string.format("non-2xx responses: %d\n", summary.errors.status))
end
