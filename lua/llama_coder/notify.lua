-- One notifier for every message: prefixed with the plugin's name (here only: the
-- engine's messages carry no prefix), titled, levelled, safe from fast events, and
-- quiet about an identical message repeated within a few seconds.
local M = {}

local REPEAT_MS = 5000
M.PREFIX = 'llama-coder: '
---@type table<string, integer>
local last_sent = {}

local LEVELS = {
  debug = vim.log.levels.DEBUG,
  info = vim.log.levels.INFO,
  warn = vim.log.levels.WARN,
  error = vim.log.levels.ERROR,
}

---@param message string
---@param level string|nil 'info' | 'warn' | 'error'
function M.notify(message, level)
  local now = vim.uv.now()
  local key = (level or 'info') .. '\0' .. message
  if last_sent[key] and now - last_sent[key] < REPEAT_MS then
    return
  end
  last_sent[key] = now
  local send = function()
    vim.notify(M.PREFIX .. message, LEVELS[level or 'info'] or vim.log.levels.INFO, { title = 'llama-coder' })
  end
  if vim.in_fast_event() then
    vim.schedule(send)
  else
    send()
  end
end

return M
