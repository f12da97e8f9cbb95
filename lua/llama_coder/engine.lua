-- The Python engine as a co-process of its own: started lazily (jobstart with rpc,
-- which returns at once), restarted on the next keystroke if it died, and spoken to
-- only with notifications, so Neovim never waits on it.
local notify = require('llama_coder.notify')
local status = require('llama_coder.status')

local M = {}

---@type integer|nil the RPC channel of a running engine
M.chan = nil
local stderr_lines = {} ---@type string[]
local last_start = nil ---@type integer|nil
local RESTART_MS = 2000 -- a failing engine is not respawned more often than this
local exiting = false -- set on VimLeavePre: never start an engine while Neovim quits

---@return string the plugin's root directory
function M.root()
  local source = debug.getinfo(1, 'S').source:sub(2)
  return vim.fn.fnamemodify(source, ':p:h:h:h')
end

---@return string
function M.log_path()
  return vim.fn.stdpath('log') .. '/llama-coder.log'
end

--- The Python the engine runs with: `python` from setup(), else the environment
--- :LlamaCoderInstall built, else g:python3_host_prog, else the plugin's own .venv, else
--- python3 (llama_coder.python decides).
---@return string
function M.python()
  return require('llama_coder.python').engine_python().path
end

--- Let the next keystroke start the engine at once: it answered (so it started fine),
--- or setup() brought a new configuration (a fixed `python`, say). The restart pause
--- is only for engines that keep dying while starting.
function M.allow_restart()
  last_start = nil
end

---@return boolean
function M.running()
  return M.chan ~= nil
end

local function on_exit(chan, code)
  if M.chan ~= chan then
    return
  end
  M.chan = nil
  local err = table.concat(stderr_lines, '\n')
  local choice = require('llama_coder.python').engine_python()
  if code == 4 or err:find('is too old', 1, true) then
    local found = err:match('Python (%d+%.%d+%.?%d*)') or 'older'
    notify.notify(
      ('the engine needs Python 3.10 or newer, but %s is Python %s (%s): %s'):format(
        choice.path,
        found,
        require('llama_coder.python').describe_source(choice.source),
        choice.source == 'setup' and 'set `python` in setup() to a Python 3.10 or newer'
          or 'run :LlamaCoderInstall (it looks for python3.10 and newer), or :LlamaCoderInstall /path/to/python3.x'
      ),
      'error'
    )
    status.set('error', { detail = 'engine: Python too old' })
  elseif code == 3 or err:find('missing Python package', 1, true) or err:find('No module named') then
    local missing = err:match('missing Python package: ([%w_%.%-]+)') or err:match("No module named '([^']+)'")
    notify.notify(
      ('the engine needs Python packages that %s lacks%s: %s'):format(
        choice.path,
        missing and (' (' .. missing .. ')') or '',
        choice.source == 'setup'
            and 'install them into that Python, or remove `python` from setup() and run :LlamaCoderInstall'
          or 'run :LlamaCoderInstall'
      ),
      'error'
    )
    status.set('error', { detail = 'engine: missing packages' })
  elseif code ~= 0 and code ~= 143 then
    notify.notify(('the engine stopped (exit code %d); it restarts on the next keystroke'):format(code), 'warn')
    status.set('error', { detail = 'engine stopped' })
  else
    status.set('stopped')
  end
end

--- Start the engine unless it runs (or failed a moment ago). Never blocks.
---@return integer|nil channel
function M.ensure()
  if M.chan then
    return M.chan
  end
  if exiting then
    return nil
  end
  local now = vim.uv.now()
  if last_start and now - last_start < RESTART_MS then
    return nil
  end
  last_start = now
  local config = require('llama_coder.config').current()
  local choice = require('llama_coder.python').engine_python()
  local python = choice.path
  if choice.note then
    notify.notify(choice.note, 'warn')
  end
  local rplugin = M.root() .. '/rplugin/python3'
  local pythonpath = vim.env.PYTHONPATH and (rplugin .. ':' .. vim.env.PYTHONPATH) or rplugin
  stderr_lines = {}
  local ok, chan = pcall(vim.fn.jobstart, {
    python,
    '-m',
    'llama_coder.host',
    '--log',
    M.log_path(),
    '--level',
    config.log.level,
  }, {
    rpc = true,
    env = { PYTHONPATH = pythonpath, LLAMA_CODER_CACHE_DIR = vim.fn.stdpath('cache') .. '/llama-coder' },
    on_stderr = function(_, data)
      for _, line in ipairs(data or {}) do
        if line ~= '' and #stderr_lines < 50 then
          table.insert(stderr_lines, line)
        end
      end
    end,
    on_exit = function(job, code)
      vim.schedule(function()
        on_exit(job, code)
      end)
    end,
  })
  if not ok or type(chan) ~= 'number' or chan <= 0 then
    notify.notify(
      ('cannot start the engine with %s (%s): run :LlamaCoderInstall, or set `python` in setup() to a Python 3.10 or newer'):format(
        python,
        require('llama_coder.python').describe_source(choice.source)
      ),
      'error'
    )
    status.set('error', { detail = 'no python' })
    return nil
  end
  M.chan = chan
  status.set('starting')
  M.send('llama_coder_configure', require('llama_coder.config').user)
  return chan
end

-- Notifications that wait until the keystroke that sent them has been handled (and
-- drawn): cancels, which must not add to the time a key takes. Sent in order, and
-- before anything sent later.
local later = {} ---@type table[]

local function flush()
  local queued = later
  later = {}
  for _, item in ipairs(queued) do
    if M.chan then
      pcall(vim.rpcnotify, M.chan, unpack(item, 1, item.n))
    end
  end
end

--- Send to a running engine once the current keystroke is handled (for cancels).
---@param method string
---@param ... any
function M.send_soon(method, ...)
  if M.chan then
    later[#later + 1] = { method, n = select('#', ...) + 1, ... }
    if #later == 1 then
      vim.schedule(flush)
    end
  end
end

--- Send a notification to the engine, starting it if needed. Never waits.
---@param method string
---@param ... any
---@return boolean sent
function M.send(method, ...)
  if #later > 0 then
    flush()
  end
  local chan = M.chan or M.ensure()
  if not chan then
    return false
  end
  local ok, err = pcall(vim.rpcnotify, chan, method, ...)
  if ok then
    return true
  end
  if vim.fn.jobwait({ chan }, 0)[1] == -1 then
    -- The engine runs: the message could not be encoded. Never forget a running engine
    -- (the next keystroke would start a second one).
    notify.notify(('could not send %s to the engine: %s'):format(method, tostring(err)), 'error')
    return false
  end
  M.stop() -- a dead channel: the next keystroke starts a new engine
  return false
end

--- Neovim is quitting: stop for good.
function M.shutdown()
  exiting = true
  M.stop()
end

function M.stop()
  if M.chan then
    local chan = M.chan
    M.chan = nil
    pcall(vim.fn.jobstop, chan)
  end
end

return M
