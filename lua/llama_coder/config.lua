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

---@param user table|nil
function M.setup(user)
  M.user = type(user) == 'table' and user or {}
  M.values = M.build(M.user)
end

---@return table
function M.current()
  if M.values == nil then
    M.setup({})
  end
  return M.values --[[@as table]]
end

return M
