-- wrk script for benchmarks/bench_api_load.py; one wrk process runs one mode.
--   wrk ... -s api_load.lua <base> -- decide <key> <first id> <last id> <race every>
--   wrk ... -s api_load.lua <base> -- list <key> <pause ms>
-- "decide" approves proposals first..last in order, one per request; every <race every>th
-- request instead posts the id it posted two requests before, which is often still in
-- flight on another connection: of two deciders exactly one may win, the other gets 409.
-- done() prints one JSON line: counts by status, latency percentiles and the acknowledged ids.

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
  for _, each in ipairs(threads) do each:set("thread_count", #threads) end
end

function init(args)
  mode, key = args[1], args[2]
  headers = { ["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json" }
  statuses, acked, sent, recent = {}, {}, 0, {}
  pause = mode == "list" and tonumber(args[3]) or 0
  if mode == "decide" then
    -- wrk threads split the range between them
    -- thread i of n takes ids first + i, first + i + n, ...
    next_id, stride = tonumber(args[3]) + index, thread_count
    last_id, race_every = tonumber(args[4]), tonumber(args[5])
  end
end

function request()
  sent = sent + 1
  if mode == "list" then
    return wrk.format("GET", "/proposals?state=pending&limit=20", headers)
  end
  local id
  if race_every > 0 and sent % race_every == 0 and recent[2] then
    id = recent[2]
  else
    id = next_id
    next_id = next_id + stride
    if id > last_id then id = last_id end  -- ran out: keep asking (409s), never a new id
    recent[2], recent[1] = recent[1], id
  end
  return wrk.format("POST", "/proposals/" .. id .. "/decision", headers,
                    '{"decision":"approve"}')
end

-- each listing connection waits this long between requests: listing is a steady background
function delay()
  return pause
end

function response(status, _, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 and mode == "decide" then
    local id = string.match(body, '"proposal_id":(%d+)')
    if id then table.insert(acked, tonumber(id)) end
  end
end

function done(summary, latency, _)
  local counts, ids = {}, {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[tostring(status)] = (counts[tostring(status)] or 0) + n
    end
    for _, id in ipairs(thread:get("acked")) do table.insert(ids, tostring(id)) end
  end
  local parts = {}
  for status, n in pairs(counts) do table.insert(parts, '"' .. status .. '":' .. n) end
  local e = summary.errors
  io.write(string.format(
    'RESULT {"seconds":%f,"requests":%d,"statuses":{%s},"errors":{"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d},"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"acked":[%s]}\n',
    summary.duration / 1e6, summary.requests, table.concat(parts, ","), e.connect, e.read,
    e.write, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, table.concat(ids, ",")))
end
