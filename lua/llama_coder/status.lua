-- The plugin's state for statuslines, kept in Lua so a redraw never calls Python.
local M = {}

---@class LlamaCoderEngineState
---@field state string idle | thinking | downloading | missing | error | starting | stopped
---@field detail string short reason for an error; for missing, how to get the model
---@field message string the whole error message
---@field percent integer|nil download progress
---@field info table backend, endpoint, model, format, fim_side, latency_ms, last_error, server
M.engine = { state = 'stopped', detail = '', message = '', percent = nil, info = {} }
M.paused = false

local last_text = nil

---@param buf integer|nil
---@return boolean
function M.filetype_enabled(buf)
  buf = buf or vim.api.nvim_get_current_buf()
  local config = require('llama_coder.config').current()
  local ft = vim.bo[buf].filetype
  local enabled = config.filetypes[ft]
  if enabled == nil then
    enabled = config.filetypes['*']
  end
  return enabled ~= false
end

---@type string|nil the last suggestion's timings, short (ui.show_info)
M.info = nil

---@type string|nil which of several suggestions is shown: '2/3'
M.alternatives = nil

---@param position string|nil
function M.set_alternatives(position)
  if position ~= M.alternatives then
    M.alternatives = position
    M.changed()
  end
end

---@return string
function M.text()
  local text = M.state_text()
  if M.alternatives then
    text = text .. ' ' .. M.alternatives
  end
  if M.info then
    local config = require('llama_coder.config').current()
    if config.ui.show_info then
      return text .. ' ' .. M.info
    end
  end
  return text
end

---@return string
function M.state_text()
  if M.paused then
    return 'paused'
  end
  if not M.filetype_enabled() then
    return 'off'
  end
  local e = M.engine
  if e.state == 'downloading' then
    return ('downloading %d%%'):format(e.percent or 0)
  elseif e.state == 'missing' then
    return 'model missing: ' .. e.detail
  elseif e.state == 'error' then
    return 'error: ' .. (e.detail ~= '' and e.detail or 'see :LlamaCoderStatus')
  elseif e.state == 'stopped' or e.state == 'starting' then
    return 'idle'
  end
  local by = e.info and e.info.answered_by
  if by and by ~= '' then
    return e.state .. ' via ' .. by:match('^%S+') -- the route or fallback that answered
  end
  return e.state
end

--- A new suggestion's timings (``stats.info_short`` from the engine).
---@param short string|nil
function M.set_info(short)
  M.info = short
  M.changed()
end

--- Tell statuslines when the text changed.
function M.changed()
  local text = M.text()
  if text == last_text then
    return
  end
  last_text = text
  vim.api.nvim_exec_autocmds('User', { pattern = 'LlamaCoderStatus', modeline = false })
  vim.cmd('redrawstatus')
end

--- The server as results' stats name it (info.server), for counts made before a final
--- result names it; info.backend may say 'auto: llamacpp'.
---@return string
function M.server()
  local info = M.engine.info or {}
  if type(info.server) == 'string' and info.server ~= '' then
    return info.server
  end
  return vim.trim(('%s %s'):format(info.backend or '', info.model or ''))
end

---@param state string
---@param extra table|nil
function M.set(state, extra)
  extra = extra or {}
  M.engine.state = state
  M.engine.detail = extra.detail or ''
  M.engine.message = extra.message or ''
  M.engine.percent = extra.percent
  if extra.info then
    M.engine.info = extra.info
  end
  M.changed()
end

return M
