-- GET /api/expenses/{id} over the seeded ids.
local ids = tonumber(os.getenv("IDS") or "1000")
request = function()
  return wrk.format("GET", "/api/expenses/" .. math.random(1, ids))
end
