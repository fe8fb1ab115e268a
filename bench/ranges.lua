-- wrk: random 1 MiB byte ranges of a file whose size is the first script argument.
local size = 0
local chunk = 1048576

function init(args)
  size = tonumber(args[1])
  math.randomseed(42 + tonumber(tostring({}):match("0x(%x+)") or "1", 16) % 1000)
end

function request()
  local slots = math.floor(size / chunk)
  local start = math.random(0, slots - 1) * chunk
  return wrk.format("GET", nil, { ["Range"] = "bytes=" .. start .. "-" .. (start + chunk - 1) })
end
