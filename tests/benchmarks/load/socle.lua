-- wrk script of the load benchmark: one scenario (or a weighted mix) of Socle's API calls.
-- Set by load_bench.py through environment variables: SCENARIO, KEY, IDS (max identity id),
-- INSI_IDS (comma-separated ids searched in INSi), MATCH_FILE (one JSON body a line),
-- CREATE_FILE (new people to create, one JSON body a line) and CREATE_FROM (the first line of
-- this run's share of them), HL7_FILE (the same people, one A28 message a line), UPDATE_FROM (the first of the identities never updated yet: still
-- at version 1), SEED (this run's random draws).

local key = os.getenv("KEY")
local scenario = os.getenv("SCENARIO")
local max_id = tonumber(os.getenv("IDS"))
local insi_ids, matches = {}, {}
for id in string.gmatch(os.getenv("INSI_IDS") or "", "%d+") do
  insi_ids[#insi_ids + 1] = id
end
for line in io.lines(os.getenv("MATCH_FILE")) do
  matches[#matches + 1] = line
end
-- Used names an update sets.
local names = {"MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS",
  "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID"}
local creations = {}
if scenario == "create" or scenario == "mixed" then
  for line in io.lines(os.getenv("CREATE_FILE")) do
    creations[#creations + 1] = line
  end
end
if scenario == "hl7" then
  for line in io.lines(os.getenv("HL7_FILE")) do
    creations[#creations + 1] = line
  end
end
local create_from = tonumber(os.getenv("CREATE_FROM") or "0")

local update_from = tonumber(os.getenv("UPDATE_FROM"))
local nthreads = tonumber(os.getenv("THREADS"))
local headers = {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}

local threads = {}
-- setup() draws each thread's seed here: from SEED, a different one for every run, so that no
-- run reads, matches or searches in the same order as the one before.
math.randomseed(tonumber(os.getenv("SEED")) or os.time())

function setup(thread)
  thread:set("seed", math.random(1, 1000000))
  thread:set("rank", #threads)
  threads[#threads + 1] = thread
end

-- Per thread: how many answers of each status other than 2xx, and of each HL7 ACK code other
-- than AA (a refused message is answered 200).
codes = {}

function response(status, headers, body)
  if status >= 300 then
    codes[status] = (codes[status] or 0) + 1
  end
  local ack = headers["x-hl7-ack-code"] or headers["X-HL7-Ack-Code"]
  if ack and ack ~= "AA" then
    codes["ACK " .. ack] = (codes["ACK " .. ack] or 0) + 1
  end
end

local updated = 0

function init(args)
  math.randomseed(seed or os.time())
end

local function read()
  return wrk.format("GET", "/api/v1/identities/" .. math.random(1, max_id), headers)
end

local function match()
  return wrk.format("POST", "/api/v1/identities/match", headers, matches[math.random(#matches)])
end

local created = 0

local function next_new()
  -- New people, drawn as the referential's were: this run's share of the file, each thread its
  -- own lines of it, so that no run creates again what an earlier one did.
  local index = (create_from + rank + nthreads * created) % #creations + 1
  created = created + 1
  return creations[index]
end

local function create()
  return wrk.format("POST", "/api/v1/identities", headers, next_new())
end

local hl7_headers = {["Authorization"] = "Bearer " .. key,
  ["Content-Type"] = "x-application/hl7-v2+er7"}

local function hl7()
  -- The same people as create(), as the A28 messages of an establishment's feed.
  return wrk.format("POST", "/api/v1/hl7v2", hl7_headers, next_new())
end

local function update()
  -- Each thread updates its own identities, once each, so If-Match 1 is the version read.
  local id = update_from + rank + nthreads * updated
  updated = updated + 1
  local body = '{"used_name":"' .. names[math.random(#names)] .. '"}'
  local h = {["If-Match"] = "1"}
  for k, v in pairs(headers) do h[k] = v end
  return wrk.format("PATCH", "/api/v1/identities/" .. id, h, body)
end

local function insi()
  local id = insi_ids[math.random(#insi_ids)]
  return wrk.format("POST", "/api/v1/identities/" .. id .. "/insi-search", headers, "{}")
end

local function mixed()
  -- 70 % match/read, 20 % create/update, 10 % INSi.
  local n = math.random(100)
  if n <= 35 then return match() end
  if n <= 70 then return read() end
  if n <= 80 then return create() end
  if n <= 90 then return update() end
  return insi()
end

local kinds = {read = read, match = match, create = create, update = update, insi = insi,
  mixed = mixed, hl7 = hl7}
request = kinds[scenario]

function done(summary, latency, requests)
  local e = summary.errors
  local statuses = ""
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("codes")) do
      statuses = statuses .. string.format('"%s":%d,', tostring(status), n)
    end
  end
  io.write(string.format(
    'RESULT {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.0f,' ..
    '"socket_errors":%d,"http_errors":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    latency.mean, e.connect + e.read + e.write + e.timeout, e.status,
    string.sub(statuses, 1, -2)))
end
