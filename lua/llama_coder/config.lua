-- The options as the Lua side reads them: generated defaults (lua/llama_coder/schema.lua,
-- written from the engine's schema), the user's values over them. Each key has one
-- validator that reports: the keys only Lua reads are checked and reported here, all
-- others by the engine; both apply the schema's one set of rules (types, ranges,
-- choices), so they agree on what a value is worth.
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

---@param value number
---@return string
local function num(value)
  return value % 1 == 0 and ('%d'):format(value) or tostring(value)
end

---@param opt LlamaCoderOption
---@return string
local function range_text(opt)
  if opt.min and opt.max then
    return (' from %s to %s'):format(num(opt.min), num(opt.max))
  elseif opt.min then
    return ' >= ' .. num(opt.min)
  elseif opt.max then
    return ' <= ' .. num(opt.max)
  end
  return ''
end

--- A value in a message: on one line, cut at 60 characters (as the engine shows them).
---@param value any
---@return string
local function show(value)
  local text = vim.inspect(value, { newline = ' ', indent = '' })
  return #text <= 60 and text or (text:sub(1, 57) .. '...')
end

--- Is ``value`` good for ``opt``? The same rules as the engine's (core/config.py
--- _check), from the same generated schema; the reason when it is not.
---@param opt LlamaCoderOption
---@param value any
---@return boolean ok
---@return string|nil must what the value must be
local function check(opt, value)
  local kind = opt.kind
  if kind == 'integer' or kind == 'number' then
    local ok = type(value) == 'number' and value == value and (kind == 'number' or value % 1 == 0)
    ok = ok and (opt.min == nil or value >= opt.min) and (opt.max == nil or value <= opt.max)
    return ok, ('an %s%s'):format(kind, range_text(opt)):gsub('^an number', 'a number')
  elseif kind == 'boolean' then
    return type(value) == 'boolean', 'true or false'
  elseif kind == 'string' then
    return type(value) == 'string', 'a string'
  elseif kind == 'choice' then
    local shown = vim.tbl_map(function(c)
      return ("'%s'"):format(c)
    end, opt.choices or {})
    return vim.tbl_contains(opt.choices or {}, value), 'one of ' .. table.concat(shown, ' | ')
  elseif kind == 'key' then
    return value == false or (type(value) == 'string' and vim.trim(value) ~= ''),
      "a key such as '<Tab>', or false"
  elseif kind == 'filetypes' then
    if type(value) ~= 'table' then
      return false, 'a table of filetype = true/false'
    end
    for k, v in pairs(value) do
      if type(k) ~= 'string' or type(v) ~= 'boolean' then
        return false, 'a table of filetype = true/false'
      end
    end
    return true, nil
  end
  return true, nil -- the engine's own kinds (formats, routes, fallback): it checks them
end

--- The options: the user's values over the generated defaults. A bad value keeps its
--- default; for the keys only Lua reads (the engine reports the others) the problem
--- is returned, worded as the engine words its own.
---@param user table|nil
---@return table values
---@return string[] problems
function M.build(user)
  user = type(user) == 'table' and user or {}
  local values, problems = {}, {}
  for _, opt in ipairs(schema) do
    local default = type(opt.default) == 'table' and vim.deepcopy(opt.default) or opt.default
    local value = get_path(user, opt.key)
    local ok, must = true, nil
    if value ~= nil then
      ok, must = check(opt, value)
    end
    if value ~= nil and ok then
      if opt.kind == 'filetypes' then
        value = vim.tbl_extend('force', default, value)
      end
      set_path(values, opt.key, value)
    else
      set_path(values, opt.key, default)
      if value ~= nil and opt.lua then
        table.insert(
          problems,
          ('%s must be %s, got %s; using the default %s'):format(
            opt.key,
            must,
            show(value),
            show(opt.default)
          )
        )
      end
    end
  end
  return values, problems
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
  local problems, bad_values
  M.user, problems = M.portable(user)
  M.values, bad_values = M.build(M.user)
  vim.list_extend(problems, bad_values)
  if #problems > 0 then
    -- Once Neovim has started: a message while init.lua runs would wait for <Enter>.
    vim.schedule(function()
      require('llama_coder.notify').notify(table.concat(problems, '\n'), 'warn')
    end)
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
