-- Every request a new session: every view must be counted (none deduplicated, none lost).
-- Usage: wrk -s bench/views_unique.lua URL   (URL ends in /api/media/public/ID)
local counter = 0
local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
function request()
  counter = counter + 1
  return wrk.format("GET", wrk.path .. "?sessionId=w" .. tid .. "-" .. counter)
end
