#!lua name=qhbench
-- The benchmark's yardstick: the least a ticket function must do (INCR a number, HSET the
-- ticket, ZADD it to its queue, XADD an audit entry, PUBLISH an event). `make bench` sets the
-- Redis CPU of qserver's functions against this one, measured on the same Redis in the same run.
-- KEYS[1] the site key; ARGV[1] the time, ARGV[2] the service.

local function ticket(keys, args)
  local site, now, service = keys[1], args[1], args[2]
  local n = redis.call('INCR', site .. ':bench:seq:' .. service)
  local id = service .. n
  redis.call('HSET', site .. ':bench:t:' .. id, 'service', service, 'state', 'waiting', 'issued', now)
  redis.call('ZADD', site .. ':bench:q:' .. service, n, id)
  local json = '{"event":"ticket","id":"' .. id .. '","state":"waiting","issued":' .. now .. '}'
  local sid = redis.call('XADD', site .. ':bench:events', 'MAXLEN', '~', '100000', '*', 'data', json)
  redis.call('PUBLISH', site .. ':bench:ev', sid .. ' ' .. json)
  return json
end

redis.register_function('qhb_ticket', ticket)
