-- A mix of reads and writes: 70 % by id, 15 % lists, 10 % category suggestions, 5 % writes.
local ids = tonumber(os.getenv("IDS") or "1000")
local words = { "coffee", "taxi", "rent", "movie", "pharmacy", "hat" }
request = function()
  local r = math.random(1, 100)
  if r <= 70 then
    return wrk.format("GET", "/api/expenses/" .. math.random(1, ids))
  elseif r <= 85 then
    return wrk.format("GET", "/api/expenses?limit=20&offset=" .. math.random(0, 100))
  elseif r <= 95 then
    return wrk.format("GET", "/api/categories/suggest?text=" .. words[math.random(1, #words)])
  else
    local body = '{"description":"load test","amount_cents":' .. math.random(1, 10000) .. '}'
    return wrk.format("POST", "/api/expenses", { ["Content-Type"] = "application/json" }, body)
  end
end
