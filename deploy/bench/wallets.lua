-- wrk script for `make bench`: wrk -s wallets.lua URL -- <mode> <wallets-file> <api-key> [<size>]
-- mode "ops": POST operations, alternating DEPOSIT and WITHDRAW of 1.00 on random wallets
-- mode "transfer": POST transfers of 1.00 between two different random wallets
-- mode "bulk": POST bulk requests of <size> operations (5th argument), alternating DEPOSIT and
--   WITHDRAW of 1.00 on random wallets
-- mode "get": GET balances of random wallets
-- mode "hold": POST a hold of 1.00 on a random wallet, then (the thread's next request) capture it
-- Counts answers by status in every thread; done() prints them as one "STATUS" line.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  mode = args[1]
  wallets = {}
  for line in io.lines(args[2]) do
    wallets[#wallets + 1] = line
  end
  auth = "Bearer " .. args[3]
  size = tonumber(args[4] or "1")
  counts = {}
  sent = 0
  captures = {}
  math.randomseed(os.time() + tonumber(tostring(counts):match("0x(%x+)") or "0", 16))
end

function request()
  sent = sent + 1
  local wallet = wallets[math.random(#wallets)]
  if mode == "get" then
    return wrk.format("GET", "/api/v1/wallets/" .. wallet, { ["Authorization"] = auth })
  end
  if mode == "hold" then
    local hold = table.remove(captures)
    if hold then
      return wrk.format("POST", "/api/v1/holds/" .. hold .. "/capture", { ["Authorization"] = auth })
    end
    return wrk.format(
      "POST",
      "/api/v1/wallets/" .. wallet .. "/holds",
      { ["Content-Type"] = "application/json", ["Authorization"] = auth },
      '{"amount": "1.00"}'
    )
  end
  if mode == "transfer" then
    local from = math.random(#wallets)
    local to = math.random(#wallets - 1)
    if to >= from then
      to = to + 1
    end
    return wrk.format(
      "POST",
      "/api/v1/transfers",
      { ["Content-Type"] = "application/json", ["Authorization"] = auth },
      '{"from": "' .. wallets[from] .. '", "to": "' .. wallets[to] .. '", "amount": "1.00"}'
    )
  end
  if mode == "bulk" then
    local operations = {}
    for i = 1, size do
      local bulk_kind = (i % 2 == 0) and "WITHDRAW" or "DEPOSIT"
      operations[i] = '{"wallet_id": "' .. wallets[math.random(#wallets)] .. '", "operationType": "'
        .. bulk_kind .. '", "amount": "1.00"}'
    end
    return wrk.format(
      "POST",
      "/api/v1/operations/bulk",
      { ["Content-Type"] = "application/json", ["Authorization"] = auth },
      '{"operations": [' .. table.concat(operations, ", ") .. ']}'
    )
  end
  local kind = (sent % 2 == 0) and "WITHDRAW" or "DEPOSIT"
  return wrk.format(
    "POST",
    "/api/v1/wallets/" .. wallet .. "/operation",
    { ["Content-Type"] = "application/json", ["Authorization"] = auth },
    '{"operationType": "' .. kind .. '", "amount": "1.00"}'
  )
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if mode == "hold" and status == 201 then
    local hold = body:match('"hold_id": "([%x-]+)"')
    if hold then
      table.insert(captures, hold)
    end
  end
end

function done(summary, latency, requests)
  local total = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("counts")) do
      total[status] = (total[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(total) do
    parts[#parts + 1] = status .. "=" .. n
  end
  table.sort(parts)
  io.write("STATUS " .. table.concat(parts, " ") .. "\n")
  io.write(string.format("LATENCY p50=%d p99=%d\n", latency:percentile(50), latency:percentile(99)))
end
