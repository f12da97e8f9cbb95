-- llama-coder.nvim: inline code completion from a model you run yourself.
-- Public API; see :help llama-coder.
local M = {}

local function suggestion()
  return require('llama_coder.suggestion')
end
local function trigger()
  return require('llama_coder.trigger')
end
local function status()
  return require('llama_coder.status')
end

--- Configure (again). Keys as in :help llama-coder-config, nested as tables.
---@param opts table|nil
function M.setup(opts)
  if not require('llama_coder.nvim_check').supported() then
    return require('llama_coder.nvim_check').complain()
  end
  local config = require('llama_coder.config')
  config.setup(opts)
  require('llama_coder.highlight').apply()
  trigger().setup()
  require('llama_coder.keymaps').setup()
  local engine = require('llama_coder.engine')
  engine.allow_restart()
  if engine.running() then
    engine.send('llama_coder_configure', config.user) -- reconfigure the running engine
  end
  status().changed()
end

---@return string short state for statuslines: idle, thinking, downloading N%, paused, error: ..., off
function M.status()
  return status().text()
end

---@return boolean
function M.is_visible()
  return suggestion().is_visible()
end

---@return string|nil the suggestion on screen
function M.suggestion()
  suggestion().sync()
  return suggestion().text()
end

---@return boolean accepted
function M.accept()
  return suggestion().accept()
end

---@return boolean accepted
function M.accept_word()
  return suggestion().accept_word()
end

---@return boolean accepted
function M.accept_line()
  return suggestion().accept_line()
end

---@return boolean dismissed a suggestion that was shown
function M.dismiss()
  trigger().cancel()
  return suggestion().dismiss()
end

--- Show the next of several suggestions (asking for more the first time).
---@return boolean
function M.next()
  return suggestion().cycle(1)
end

--- Show the previous of several suggestions.
---@return boolean
function M.prev()
  return suggestion().cycle(-1)
end

--- How well the model serves you: this session's numbers per server and model and,
--- with stats.persist, the totals of all sessions (see :help llama-coder-stats-window).
---@return table
function M.stats()
  return require('llama_coder.stats').get()
end

--- Ask for a suggestion now (works while paused and with delay = -1).
function M.trigger()
  trigger().fire(true)
end

function M.pause()
  status().paused = true
  M.dismiss()
  status().changed()
end

function M.resume()
  status().paused = false
  status().changed()
end

function M.toggle()
  if status().paused then
    M.resume()
  else
    M.pause()
  end
end

--- The lines :LlamaCoderStatus prints.
---@return string[]
function M.status_lines()
  require('llama_coder.model').recheck('status') -- a missing model may be there by now
  local s = status()
  local config = require('llama_coder.config').current()
  local info = s.engine.info or {}
  local engine = require('llama_coder.engine')
  local last = suggestion().last_result
  local latency = last and last.stats and last.stats.elapsed_ms or info.latency_ms
  local lines = {
    'llama-coder: ' .. s.text(),
    ('  backend   %s'):format(info.backend or config.backend),
    ('  endpoint  %s'):format(info.endpoint or (config.endpoint ~= '' and config.endpoint or '(default)')),
    ('  model     %s'):format(info.model or (config.model ~= '' and config.model or '(default)')),
    ('  format    %s (prompt built by the %s)'):format(info.format or config.format, info.fim_side or '?'),
    ('  engine    %s'):format(engine.running() and 'running' or 'not started'),
    ('  latency   %s'):format(latency and (('%.0f ms'):format(latency)) or '-'),
  }
  table.insert(lines, '  last      ' .. (last and last.stats and last.stats.info or '-'))
  if info.answered_by and info.answered_by ~= '' then
    table.insert(lines, '  answered  ' .. info.answered_by)
  end
  local err = s.engine.message ~= '' and s.engine.message or info.last_error
  table.insert(lines, '  last error ' .. ((err and err ~= '') and err or '-'))
  return lines
end

return M
