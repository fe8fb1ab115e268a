-- Public writes from many clients behind a trusted proxy, or from one abusive address.
-- Usage: wrk -s bench/guard_clients.lua URL -- ACTION CLIENTS IDS
--   ACTION: upvote (POST .../upvote, a fresh session each) or view (GET ..., a fresh session)
--   CLIENTS: spread (a random X-Forwarded-For per request) or one (always 198.51.100.7)
--   IDS: comma-separated unlocked public media ids to spread the requests over
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function init(args)
  action, clients = args[1], args[2]
  ids = {}
  for id in string.gmatch(args[3], "%d+") do ids[#ids + 1] = id end
  math.randomseed(tid * 7919 + os.time())
end
local function client()
  if clients == "one" then return "198.51.100.7" end
  return string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254))
end
function request()
  counter = counter + 1
  local session = "b" .. tid .. "-" .. counter .. "-" .. math.random(1, 1000000000)
  local id = ids[math.random(#ids)]
  local headers = { ["X-Forwarded-For"] = client() }
  if action == "upvote" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/media/public/" .. id .. "/upvote", headers,
      '{"sessionId":"' .. session .. '"}')
  end
  return wrk.format("GET", "/api/media/public/" .. id .. "?sessionId=" .. session, headers)
end
