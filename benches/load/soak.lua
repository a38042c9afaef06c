-- The mixed workload of mixed.lua, with every answer looked at, for soak.sh: each
-- acknowledged write (201) is logged as `W <id> <amount_cents>`, each answer that is
-- not a 2xx as `E <unix seconds> <status> <first 200 bytes of the body>`, one file per
-- wrk thread, `$SOAK_WRK_LOG.<thread>`.
dofile((os.getenv("SOAK_DIR") or "benches/load") .. "/mixed.lua")

local prefix = os.getenv("SOAK_WRK_LOG") or "soak-wrk.log"
local threads = 0

-- Wall-clock time with milliseconds (LuaJIT's ffi), or whole seconds without it.
local now = os.time
local ok, ffi = pcall(require, "ffi")
if ok then
  pcall(ffi.cdef, "typedef struct { long tv_sec; long tv_usec; } soak_timeval;"
    .. " int gettimeofday(soak_timeval *tv, void *tz);")
  local tv = ffi.new("soak_timeval")
  now = function()
    ffi.C.gettimeofday(tv, nil)
    return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
  end
end

function setup(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

local log

function init(args)
  log = assert(io.open(prefix .. "." .. tostring(thread_id or 0), "w"))
  log:setvbuf("line")
end

function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id":(%d+)')
    local amount = body:match('"amount_cents":(%d+)')
    log:write("W ", id or "?", " ", amount or "?", "\n")
  elseif status < 200 or status > 299 then
    local snippet = (body or ""):sub(1, 200):gsub("[\r\n]", " ")
    log:write(string.format("E %.3f %d %s\n", now(), status, snippet))
  end
end
