/**
 * The Lua scripts. Each one is a single atomic step (Redis runs a script to the end before any
 * other command), batched: one call carries every record or upstream key of one event-loop tick,
 * so the per-message cost in Redis is a few hash/sorted-set operations, not a command round trip.
 *
 * `unpack` is capped at LUAI_MAXCSTACK (8000) values, hence the chunks of CHUNK arguments.
 */
const CHUNK = 1000;

/**
 * append — KEYS: out, own:<me>, instances. ARGV: me, then (id, seq, record) triples.
 * Records the messages and marks them as owned by `me`; (re)registers `me` for the adoption scan,
 * in case an adopter removed it from the list while this instance was presumed dead.
 */
export const APPEND = `
local h, z = {}, {}
for i = 2, #ARGV, 3 do
  h[#h + 1] = ARGV[i]; h[#h + 1] = ARGV[i + 2]
  z[#z + 1] = ARGV[i + 1]; z[#z + 1] = ARGV[i]
  if #h >= ${CHUNK} then
    redis.call('HSET', KEYS[1], unpack(h)); redis.call('ZADD', KEYS[2], unpack(z)); h, z = {}, {}
  end
end
if #h > 0 then redis.call('HSET', KEYS[1], unpack(h)); redis.call('ZADD', KEYS[2], unpack(z)) end
redis.call('ZADD', KEYS[3], 'NX', 0, ARGV[1])
return (#ARGV - 1) / 3
`;

/**
 * update — KEYS: out. ARGV: (id, record) pairs. Rewrites records that still exist (a retry count,
 * a not-before time); a record removed meanwhile (settled here, or by the instance that adopted
 * it) is not brought back.
 */
export const UPDATE = `
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]); n = n + 1 end
end
return n
`;

/**
 * settle — KEYS: out, own:<me>, outcomes. ARGV: maxlen, me, then (id, status, code, retries,
 * adopted) quintuples. Removes the records; appends an outcome entry for each one whose status is
 * not empty, trimming the stream to about maxlen entries.
 */
export const SETTLE = `
local ids = {}
for i = 3, #ARGV, 5 do
  ids[#ids + 1] = ARGV[i]
  if #ids >= ${CHUNK} then redis.call('HDEL', KEYS[1], unpack(ids)); redis.call('ZREM', KEYS[2], unpack(ids)); ids = {} end
  if ARGV[i + 1] ~= '' then
    redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[1], '*', 'id', ARGV[i], 'status', ARGV[i + 1],
      'code', ARGV[i + 2], 'retries', ARGV[i + 3], 'adopted', ARGV[i + 4], 'instance', ARGV[2])
  end
end
if #ids > 0 then redis.call('HDEL', KEYS[1], unpack(ids)); redis.call('ZREM', KEYS[2], unpack(ids)) end
return (#ARGV - 2) / 5
`;

/**
 * remove — KEYS: out, own:<me>. ARGV: ids. Removes settled records that report no outcome (the
 * common case: one argument per message instead of settle's five).
 */
export const REMOVE = `
local ids = {}
for i = 1, #ARGV do
  ids[#ids + 1] = ARGV[i]
  if #ids >= ${CHUNK} then redis.call('HDEL', KEYS[1], unpack(ids)); redis.call('ZREM', KEYS[2], unpack(ids)); ids = {} end
end
if #ids > 0 then redis.call('HDEL', KEYS[1], unpack(ids)); redis.call('ZREM', KEYS[2], unpack(ids)) end
return #ARGV
`;

/**
 * heartbeat — KEYS: lease:<me>, instances. ARGV: me, ttlMs, token.
 * Renews the lease and the registration. Returns 1 when the lease was still there, 0 when it had
 * expired (first beat, or this instance was presumed dead and its records may have been adopted).
 */
export const HEARTBEAT = `
local had = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], 'NX', 0, ARGV[1])
if had == ARGV[3] then return 1 end
return 0
`;

/**
 * adopt — KEYS: instances, out, own:<me>. ARGV: me, prefix, baseSeq, maxRecords, stage, ttlMs.
 * For each registered instance other than `me` whose lease key is gone: moves its records, in their
 * submission order, scored baseSeq + 1, + 2… (the adopter's order numbers for adopted records,
 * below those of the messages it accepts; see LeaseKeeper), to `stage` (`<me>~<scan>`, registered
 * with a lease of `ttlMs`), at most maxRecords in all per call — Redis runs nothing else meanwhile,
 * so one call's work is bounded (measured, one script for a whole dead instance of 100 000 records
 * of 1 KB: 1.3 s; of 300 000: 5 s, every live lease lapsing with it). An instance left part-taken
 * is marked as this adopter's (`lease:<instance>~adopter`, PX `ttlMs`, renewed at each call): the
 * others leave it alone and `me` takes the rest at its next calls, so one adopter sends a dead
 * instance's messages and their per-target order holds; an adopter that dies midway lets the mark
 * lapse and another takes the rest. A fully taken instance is unregistered. Returns a flat array of
 * (instance, id, record) triples. The adopter then moves the stage to `own:<me>` (adopted); an
 * answer lost on the way (a reset after the script ran) leaves the stage to lapse and be adopted
 * again, instead of the records sitting in a live instance's set, never sent.
 */
export const ADOPT = `
local me, prefix, seq, max, stage, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], ARGV[6]
local dest = prefix .. 'own:' .. stage
local res = {}
local budget = max
for _, inst in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if budget <= 0 then break end
  if inst ~= me and inst ~= stage and redis.call('EXISTS', prefix .. 'lease:' .. inst) == 0 then
    local mark = prefix .. 'lease:' .. inst .. '~adopter'
    local by = redis.call('GET', mark)
    if not by or by == me then
      local own = prefix .. 'own:' .. inst
      local ids = redis.call('ZRANGE', own, 0, budget - 1)
      for _, id in ipairs(ids) do
        local rec = redis.call('HGET', KEYS[2], id)
        if rec then
          seq = seq + 1
          redis.call('ZADD', dest, seq, id)
          res[#res + 1] = inst; res[#res + 1] = id; res[#res + 1] = rec
        end
      end
      budget = budget - #ids
      if #ids > 0 then redis.call('ZREMRANGEBYRANK', own, 0, #ids - 1) end
      if redis.call('EXISTS', own) == 1 then
        redis.call('SET', mark, me, 'PX', ttl)
      else
        redis.call('DEL', mark)
        redis.call('ZREM', KEYS[1], inst)
      end
    end
  end
end
if #res > 0 then
  redis.call('SET', prefix .. 'lease:' .. stage, '1', 'PX', ttl)
  redis.call('ZADD', KEYS[1], 'NX', 0, stage)
end
return res
`;

/**
 * adopted — KEYS: instances, out, own:<me>. ARGV: prefix, stage.
 * The adopter has the records of `stage` (see adopt): those still recorded join `own:<me>` with
 * their order, and the stage goes. Returns how many moved (0 when the stage lapsed and was adopted
 * again first: those records then go out twice, at-least-once).
 */
export const ADOPTED = `
local own = ARGV[1] .. 'own:' .. ARGV[2]
local ids = redis.call('ZRANGE', own, 0, -1, 'WITHSCORES')
local n = 0
for i = 1, #ids, 2 do
  if redis.call('HEXISTS', KEYS[2], ids[i]) == 1 then
    redis.call('ZADD', KEYS[3], ids[i + 1], ids[i]); n = n + 1
  end
end
redis.call('DEL', own, ARGV[1] .. 'lease:' .. ARGV[2])
redis.call('ZREM', KEYS[1], ARGV[2])
return n
`;

/**
 * retire — KEYS: own:<me>, instances. ARGV: prefix, name.
 * Run once when this process takes its lease, before it appends anything: whatever `own:<me>` holds
 * then was left by an earlier process with the same instanceId (a restart may reuse it). Those ids
 * move to `own:<name>`, registered with no lease, so the adoption scan hands them on — to this
 * process after its hold, or to another instance — instead of their sitting in a set that only this
 * live process's lease guards, sent by nobody. Returns how many moved.
 */
export const RETIRE = `
local n = redis.call('ZCARD', KEYS[1])
if n > 0 then
  redis.call('RENAME', KEYS[1], ARGV[1] .. 'own:' .. ARGV[2])
  redis.call('ZADD', KEYS[2], 0, ARGV[2])
end
return n
`;

/**
 * claim — KEYS: instances (unused; it routes the call to the sender's slot on a cluster). ARGV: me,
 * prefix, runningTtlMs, then (key suffix, token, stale) triples.
 * A running claim is `r:<me>:<token>`: the token names one claim of one instance, so a release
 * removes only the claim it was made for (see release). Per key: 0 = new (claimed by `me` with
 * `token` now, also when its previous owner's lease is gone, or when it is `me`'s claim under the
 * token `stale`, which `me` knows nothing runs any more); a string = held by `me` under that token;
 * 2 = running on a live instance; 3 = done.
 *
 * `r:<me>` without a token is the format before claim tokens: this code never writes it, so under
 * `me` it was left by an earlier process with the same instanceId (one instanceId is one process at
 * a time; see the README), and nothing runs it any more — taken as new rather than waited on until
 * it expires, as `me`'s live lease would otherwise have it.
 */
export const CLAIM = `
local me, prefix, ttl = ARGV[1], ARGV[2], ARGV[3]
local mine = 'r:' .. me .. ':'
local out = {}
for i = 4, #ARGV, 3 do
  local k = prefix .. 'up:' .. ARGV[i]
  local v = redis.call('GET', k)
  local take = not v
  if v == 'd' then
    out[#out + 1] = 3
  elseif v then
    if string.sub(v, 1, #mine) == mine then
      local token = string.sub(v, #mine + 1)
      if token == ARGV[i + 2] then take = true else out[#out + 1] = token end
    elseif v ~= 'r:' .. me and redis.call('EXISTS', prefix .. 'lease:' .. (string.match(v, '^r:([^:]*)') or '')) == 1 then
      out[#out + 1] = 2
    else
      take = true
    end
  end
  if take then redis.call('SET', k, mine .. ARGV[i + 1], 'PX', ttl); out[#out + 1] = 0 end
end
return out
`;

/**
 * complete — KEYS: done. ARGV: prefix, windowMs, maxCount (0: no count bound), me, then (key
 * suffix, token) pairs. Marks the messages done for windowMs; beyond maxCount remembered
 * completions, the oldest are forgotten (at most two per completion, so the work per call stays
 * bounded).
 *
 * The key itself holds `d`, the one value every instance (of this version or the one before) reads
 * as done, so a fleet can be upgraded one instance at a time. Which completion it is — `<me>:<token>`
 * — goes to a companion key `upd:<suffix>` with the same lifetime, written first (a script refused
 * half-way leaves no `d` without it). A release compares it (see release); trimming drops both.
 */
export const COMPLETE = `
local prefix, ttl, max, me = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
for i = 5, #ARGV, 2 do
  local k = prefix .. 'up:' .. ARGV[i]
  redis.call('SET', prefix .. 'upd:' .. ARGV[i], me .. ':' .. ARGV[i + 1], 'PX', ttl)
  redis.call('SET', k, 'd', 'PX', ttl)
  if max > 0 then
    redis.call('LPUSH', KEYS[1], k)
    for _ = 1, 2 do
      if redis.call('LLEN', KEYS[1]) <= max then break end
      local old = redis.call('RPOP', KEYS[1])
      if redis.call('GET', old) == 'd' then
        redis.call('DEL', old, prefix .. 'upd:' .. string.sub(old, #prefix + 4))
      end
    end
  end
end
if max > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return (#ARGV - 4) / 2
`;

/**
 * release — KEYS: instances (routing only, as for claim). ARGV: me, prefix, then (mode, key
 * suffix, token) triples. Forgets `me`'s claim made under `token` (the handler failed, so CCS's
 * resend must run it again, here or elsewhere) — and only that one: a resend claimed again since
 * (under another token) keeps its claim while its handler runs. Mode `d` also forgets the
 * completion `me` made under `token` (the handler ran but a reply it sent was not recorded, so the
 * message was not ACKed and must be handled again) — and only that one, by its companion key: a
 * release that comes late (retried after Redis was away) must not forget a later completion of the
 * same message, made after this one lapsed or was released, or the next resend runs again. A `d`
 * written by the version before (no companion) was not made by this process, and stays.
 */
export const RELEASE = `
local me, prefix = ARGV[1], ARGV[2]
local mine = 'r:' .. me .. ':'
local n = 0
for i = 3, #ARGV, 3 do
  local k = prefix .. 'up:' .. ARGV[i + 1]
  local v = redis.call('GET', k)
  if v == mine .. ARGV[i + 2] then
    redis.call('DEL', k); n = n + 1
  elseif v == 'd' and ARGV[i] == 'd' then
    local c = prefix .. 'upd:' .. ARGV[i + 1]
    if redis.call('GET', c) == me .. ':' .. ARGV[i + 2] then redis.call('DEL', k, c); n = n + 1 end
  end
end
return n
`;

/** Every script with its fixed key count, as ioredis `defineCommand` takes them. */
export const SCRIPTS = {
  ccsAppend: { numberOfKeys: 3, lua: APPEND },
  ccsUpdate: { numberOfKeys: 1, lua: UPDATE },
  ccsSettle: { numberOfKeys: 3, lua: SETTLE },
  ccsRemove: { numberOfKeys: 2, lua: REMOVE },
  ccsHeartbeat: { numberOfKeys: 2, lua: HEARTBEAT },
  ccsAdopt: { numberOfKeys: 3, lua: ADOPT },
  ccsAdopted: { numberOfKeys: 3, lua: ADOPTED },
  ccsRetire: { numberOfKeys: 2, lua: RETIRE },
  ccsClaim: { numberOfKeys: 1, lua: CLAIM },
  ccsComplete: { numberOfKeys: 1, lua: COMPLETE },
  ccsRelease: { numberOfKeys: 1, lua: RELEASE },
} as const;

/** The script names. */
export type ScriptName = keyof typeof SCRIPTS;
