-- The options as the Lua side reads them: generated defaults, the user's values over
-- them. Full validation (one message naming every bad key) happens in the engine,
-- which is the one owner of the schema; here a bad value just keeps its default.
local schema = require('llama_coder.schema')

local M = {}

---@type table|nil the merged options, nested as the user writes them
M.values = nil
---@type table the table given to setup(), sent to the engine as it is
M.user = {}

---@param tbl table
---@param key string dotted
---@return any
local function get_path(tbl, key)
  local node = tbl
  for part in key:gmatch('[^.]+') do
    if type(node) ~= 'table' then
      return nil
    end
    node = node[part]
  end
  return node
end

---@param tbl table
---@param key string dotted
---@param value any
local function set_path(tbl, key, value)
  local parts = vim.split(key, '.', { plain = true })
  local node = tbl
  for i = 1, #parts - 1 do
    node[parts[i]] = node[parts[i]] or {}
    node = node[parts[i]]
  end
  node[parts[#parts]] = value
end

---@param opt LlamaCoderOption
---@param value any
---@return boolean
local function acceptable(opt, value)
  local kind = opt.kind
  if kind == 'integer' or kind == 'number' then
    if type(value) ~= 'number' or (kind == 'integer' and value % 1 ~= 0) then
      return false
    end
    return (opt.min == nil or value >= opt.min) and (opt.max == nil or value <= opt.max)
  elseif kind == 'boolean' then
    return type(value) == 'boolean'
  elseif kind == 'string' then
    return type(value) == 'string'
  elseif kind == 'choice' then
    return vim.tbl_contains(opt.choices or {}, value)
  elseif kind == 'key' then
    return value == false or (type(value) == 'string' and value ~= '')
  elseif kind == 'filetypes' or kind == 'formats' then
    return type(value) == 'table'
  end
  return true
end

---@param user table|nil
---@return table
function M.build(user)
  user = type(user) == 'table' and user or {}
  local values = {}
  for _, opt in ipairs(schema) do
    local default = type(opt.default) == 'table' and vim.deepcopy(opt.default) or opt.default
    local value = get_path(user, opt.key)
    if value ~= nil and acceptable(opt, value) then
      if opt.kind == 'filetypes' then
        value = vim.tbl_extend('force', default, value)
      end
      set_path(values, opt.key, value)
    else
      set_path(values, opt.key, default)
    end
  end
  return values
end

---@param key string dotted path, for messages
---@param value any
---@param problems string[]
---@param seen table<table, boolean> tables on the path (a cycle cannot be sent)
---@return any value the value as it can travel to the engine (nil: dropped)
local function portable(key, value, problems, seen)
  local name = key ~= '' and key or 'the table given to setup()'
  local kind = type(value)
  if kind == 'string' or kind == 'boolean' or value == vim.NIL then
    return value
  elseif kind == 'number' then
    if value ~= value or value == math.huge or value == -math.huge then
      table.insert(problems, ('%s is not a finite number; ignored'):format(name))
      return nil
    end
    return value
  elseif kind ~= 'table' then
    table.insert(problems, ('%s is a %s, which setup() cannot use; ignored'):format(name, kind))
    return nil
  end
  if seen[value] then
    table.insert(problems, ('%s contains itself; ignored'):format(name))
    return nil
  end
  local names, items, other = 0, 0, 0
  for k in pairs(value) do
    if type(k) == 'string' then
      names = names + 1
    elseif type(k) == 'number' and k >= 1 and k % 1 == 0 then
      items = items + 1
    else
      other = other + 1
    end
  end
  if other > 0 or (items > 0 and (names > 0 or items ~= #value)) then
    table.insert(
      problems,
      ('%s mixes list items with key = value entries; write it as {%s}; ignored'):format(
        name,
        names > 0 and 'name = value, ...' or 'item, item, ...'
      )
    )
    return nil
  end
  seen[value] = true
  local out = {}
  if items > 0 then
    for i, item in ipairs(value) do
      out[#out + 1] = portable(('%s[%d]'):format(key, i), item, problems, seen)
    end
  else
    for k, item in pairs(value) do
      out[k] = portable(key == '' and k or (key .. '.' .. k), item, problems, seen)
    end
  end
  seen[value] = nil
  return out
end

--- The table given to setup() as it can travel to the engine: values that cannot (a
--- function, a table mixing list items with key = value entries, a cycle) are dropped,
--- each with a message naming its key.
---@param user any
---@return table cleaned
---@return string[] problems
function M.portable(user)
  local problems = {}
  if user ~= nil and type(user) ~= 'table' then
    return {}, { ('setup() takes a table, got a %s; ignored'):format(type(user)) }
  end
  local cleaned = portable('', user or {}, problems, {})
  return type(cleaned) == 'table' and cleaned or {}, problems
end

---@param user table|nil
function M.setup(user)
  local problems
  M.user, problems = M.portable(user)
  M.values = M.build(M.user)
  if #problems > 0 then
    require('llama_coder.notify').notify(table.concat(problems, '\n'), 'warn')
  end
end

---@return table
function M.current()
  if M.values == nil then
    M.setup({})
  end
  return M.values --[[@as table]]
end

return M
