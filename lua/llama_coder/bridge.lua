-- Messages from the engine arrive here (exec_lua notifications): one entry point,
-- dispatched by kind. Runs on the main loop, never in a fast event.
local M = {}

---@type table<integer, table> health reports by token
M.health_reports = {}

--- msgpack nil inside tables arrives as vim.NIL: make it a plain nil.
---@param value any
---@return any
local function denil(value)
  if value == vim.NIL then
    return nil
  end
  if type(value) == 'table' then
    for k, v in pairs(value) do
      value[k] = denil(v)
    end
  end
  return value
end

---@param kind string
---@param payload table
function M.receive(kind, payload)
  payload = denil(payload)
  require('llama_coder.engine').allow_restart()
  if kind == 'result' then
    require('llama_coder.trigger').on_result(payload)
  elseif kind == 'status' then
    local status = require('llama_coder.status')
    status.set(payload.state, payload)
    if payload.state == 'error' then
      require('llama_coder.stats').error(status.server(), payload.detail or 'error')
    elseif payload.state == 'missing' then
      require('llama_coder.model').on_missing()
    end
  elseif kind == 'notify' then
    require('llama_coder.notify').notify(payload.message, payload.level)
  elseif kind == 'ask_pull' then
    require('llama_coder.model').ask(payload)
  elseif kind == 'model_found' then
    require('llama_coder.model').found(payload)
  elseif kind == 'alternative' then
    require('llama_coder.suggestion').on_alternative(payload)
  elseif kind == 'alternatives_done' then
    require('llama_coder.suggestion').on_alternatives_done(payload)
  elseif kind == 'health' then
    M.health_reports[payload.token] = payload
  end
end

return M
