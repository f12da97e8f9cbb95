-- :LlamaCoderInstall: the engine's own virtual environment under stdpath('data'), with
-- the runtime requirements of pyproject.toml, built without blocking Neovim (each step
-- is a vim.system process whose end starts the next). Running it again upgrades in
-- place. The stamp is written last: until then the engine does not use the directory.
-- Headless (a plugin manager's build in `nvim --headless`) it waits for the end.
local python = require('llama_coder.python')

local M = {}

local WAIT_MS = 20 * 60 * 1000 -- headless: longest wait for pip before giving up
local VERSIONED = { 'python3.14', 'python3.13', 'python3.12', 'python3.11', 'python3.10' }

-- Runs on any Python: its version, and whether it can make virtual environments.
local PROBE = table.concat({
  'import sys',
  "v = '%d.%d.%d' % tuple(sys.version_info[:3])",
  'try:',
  '    import ensurepip, venv',
  "    v += ' venv'",
  'except Exception:',
  "    v += ' novenv'",
  'print(v)',
}, '\n')

-- Installed version of each distribution named on the command line (the version first,
-- also on Pythons too old for importlib.metadata).
M.PACKAGES_SCRIPT = table.concat({
  'import sys',
  "out = ['%d.%d.%d' % tuple(sys.version_info[:3])]",
  'try:',
  '    import importlib.metadata as m',
  'except ImportError:',
  '    m = None',
  'for name in sys.argv[1:]:',
  '    try:',
  "        out.append(name + ' ' + m.version(name))",
  '    except Exception:',
  "        out.append(name + ' MISSING')",
  "print('|'.join(out))",
}, '\n')

---@class LlamaCoderInstallOpts
---@field python string|nil the Python to build the environment with (else the first 3.10+ found)
---@field on_done fun(ok: boolean, message: string)|nil

---@class LlamaCoderInstallHandle
---@field done boolean
---@field ok boolean|nil
---@field message string|nil the result message
---@field progress string the latest progress line
---@field wait fun(self: LlamaCoderInstallHandle, timeout_ms: integer|nil): boolean, string

---@type LlamaCoderInstallHandle|nil the install under way
local current = nil

---@return boolean Neovim without a UI (a plugin manager's headless build, a script)
function M.headless()
  return #vim.api.nvim_list_uis() == 0
end

---@return string
function M.log_path()
  return vim.fn.stdpath('log') .. '/llama-coder-install.log'
end

---@param self LlamaCoderInstallHandle
---@param timeout_ms integer|nil
---@return boolean ok, string message
local function wait(self, timeout_ms)
  vim.wait(timeout_ms or WAIT_MS, function()
    return self.done
  end, 50)
  if not self.done then
    return false, 'llama-coder: the install did not finish in time; see ' .. M.log_path()
  end
  return self.ok == true, self.message or ''
end

---@param text string
---@return string the last non-empty lines, for a message
local function tail(text, count)
  local lines = vim.tbl_filter(function(line)
    return vim.trim(line) ~= ''
  end, vim.split(text or '', '\n', { plain = true }))
  return table.concat(vim.list_slice(lines, math.max(1, #lines - (count or 3) + 1)), '\n')
end

--- Install (or upgrade) the engine's environment. Never blocks; see handle:wait().
---@param opts LlamaCoderInstallOpts|nil
---@return LlamaCoderInstallHandle
function M.run(opts)
  opts = opts or {}
  if current and not current.done then
    vim.notify('llama-coder: an install is already running: ' .. current.progress, vim.log.levels.INFO)
    return current
  end
  ---@type LlamaCoderInstallHandle
  local handle = { done = false, ok = nil, message = nil, progress = '', wait = wait }
  current = handle
  local headless = M.headless()
  vim.fn.mkdir(vim.fn.stdpath('log'), 'p')
  local log = io.open(M.log_path(), 'w')
  local venv = python.venv_dir()
  local venv_python = python.venv_python(venv)

  ---@param line string
  local function write_log(line)
    if log then
      log:write(line, '\n')
      log:flush()
    end
  end

  ---@param message string
  local function progress(message)
    handle.progress = message
    write_log('== ' .. message)
    if headless then -- stderr: with --embed, stdout is the RPC channel
      io.stderr:write('llama-coder: ', message, '\n')
    else
      vim.api.nvim_echo({ { 'llama-coder: ' .. message } }, false, {})
      vim.cmd('redraw')
    end
  end

  ---@param ok boolean
  ---@param message string
  local function finish(ok, message)
    handle.done, handle.ok, handle.message = true, ok, message
    write_log((ok and '== done: ' or '== failed: ') .. message)
    if log then
      log:close()
      log = nil
    end
    if headless then
      io.stderr:write(message, '\n')
    else
      vim.notify(message, ok and vim.log.levels.INFO or vim.log.levels.ERROR, { title = 'llama-coder' })
    end
    if ok then
      -- The next keystroke starts the engine from the new environment.
      local engine = require('llama_coder.engine')
      engine.stop()
      engine.allow_restart()
      require('llama_coder.status').set('stopped')
    end
    if opts.on_done then
      opts.on_done(ok, message)
    end
  end

  ---@param reason string
  local function fail(reason)
    finish(false, 'llama-coder: install failed: ' .. reason)
  end

  --- Run a process; its output goes to the log; `lines` sees stdout line by line.
  ---@param cmd string[]
  ---@param on_exit fun(result: vim.SystemCompleted)
  ---@param lines fun(line: string)|nil
  local function spawn(cmd, on_exit, lines)
    write_log('$ ' .. table.concat(cmd, ' '))
    local partial = ''
    local ok, err = pcall(vim.system, cmd, {
      text = true,
      env = { PIP_DISABLE_PIP_VERSION_CHECK = '1', PYTHONPATH = '' },
      stdout = lines and function(_, data)
        if not data then
          return
        end
        partial = partial .. data
        for line in partial:gmatch('([^\n]*)\n') do
          write_log(line)
          vim.schedule(function()
            lines(line)
          end)
        end
        partial = partial:match('[^\n]*$')
      end or nil,
    }, function(result)
      write_log(result.stdout or '')
      write_log(result.stderr or '')
      vim.schedule(function()
        on_exit(result)
      end)
    end)
    if not ok then
      vim.schedule(function()
        on_exit({ code = -1, signal = 0, stdout = '', stderr = tostring(err) })
      end)
    end
  end

  local requirements, req_err = python.requirements()
  if not requirements then
    fail(req_err or 'no requirements')
    return handle
  end
  local names = vim.tbl_map(python.requirement_name, requirements)

  local function write_stamp(version, packages)
    local stamp = vim.json.encode({ requirements = requirements, python = version, packages = packages })
    local path = venv .. '/' .. python.STAMP_NAME
    local file = io.open(path .. '.tmp', 'w')
    if not file then
      return false
    end
    file:write(stamp)
    file:close()
    return vim.uv.fs_rename(path .. '.tmp', path) == true
  end

  local function verify()
    progress('checking the packages')
    spawn({ venv_python, '-c', M.PACKAGES_SCRIPT, unpack(names) }, function(result)
      local fields = vim.split(vim.trim(result.stdout or ''), '|', { plain = true })
      if result.code ~= 0 or #fields ~= #names + 1 then
        return fail('the environment does not run: ' .. tail(result.stderr))
      end
      for i = 2, #fields do
        if fields[i]:find('MISSING', 1, true) then
          return fail(('%s is missing after pip install; see %s'):format(fields[i], M.log_path()))
        end
      end
      if not write_stamp(fields[1], vim.list_slice(fields, 2)) then
        return fail('cannot write the stamp in ' .. venv)
      end
      local message = ('llama-coder: the engine environment is ready: Python %s with %s, in %s'):format(
        fields[1],
        table.concat(vim.list_slice(fields, 2), ', '),
        vim.fn.fnamemodify(venv, ':~')
      )
      local setting = require('llama_coder.config').current().python
      if setting ~= '' then
        message = message
          .. ('\n`python` is set in setup() (%s): the engine uses that instead; remove it to use this environment'):format(
            setting
          )
      end
      finish(true, message)
    end)
  end

  local function pip_install()
    progress('pip install ' .. table.concat(requirements, ' '))
    local cmd = { venv_python, '-m', 'pip', 'install', '--upgrade' }
    vim.list_extend(cmd, requirements)
    spawn(cmd, function(result)
      if result.code ~= 0 then
        return fail(('pip could not install the packages:\n%s\nFull output: %s'):format(
          tail(result.stderr, 4),
          M.log_path()
        ))
      end
      verify()
    end, function(line)
      if line:match('^Collecting') or line:match('^Installing') or line:match('^Successfully') then
        progress(line)
      end
    end)
  end

  ---@param exe string
  ---@param version string
  ---@param clear boolean
  local function create(exe, version, clear)
    progress(('creating %s with Python %s (%s)'):format(vim.fn.fnamemodify(venv, ':~'), version, exe))
    vim.fn.mkdir(vim.fn.fnamemodify(venv, ':h'), 'p')
    local cmd = { exe, '-m', 'venv' }
    if clear then
      table.insert(cmd, '--clear')
    end
    table.insert(cmd, venv)
    spawn(cmd, function(result)
      if result.code ~= 0 then
        local advice = ''
        if (result.stderr .. result.stdout):find('ensurepip') then
          advice = ('\n%s cannot create virtual environments: install its venv module (Debian, Ubuntu: sudo apt install python3-venv), then run :LlamaCoderInstall again'):format(
            exe
          )
        end
        return fail(('%s -m venv failed:\n%s%s'):format(exe, tail(result.stderr), advice))
      end
      pip_install()
    end)
  end

  -- Candidates in order: the one asked for, else python3, then versioned names, then
  -- python (Windows, conda).
  local candidates = opts.python and opts.python ~= '' and { vim.fn.expand(opts.python) }
    or vim.list_extend(vim.list_extend({ 'python3' }, VERSIONED), { 'python' })
  local tried = {} ---@type string[]
  local no_venv = nil ---@type string|nil a 3.10+ found without the venv module

  local function pick(index)
    local name = candidates[index]
    if not name then
      local found = no_venv
          and ('%s has no venv module: install it (Debian, Ubuntu: sudo apt install python3-venv), then run :LlamaCoderInstall again'):format(
            no_venv
          )
        or 'no Python 3.10 or newer found'
      return fail(
        ('%s (tried: %s).\nInstall Python 3.10+ (or its venv module), then run :LlamaCoderInstall {python}'):format(
          found,
          table.concat(tried, ', ')
        )
      )
    end
    local exe = vim.fn.exepath(name)
    if exe == '' then
      table.insert(tried, name .. ' not found')
      return pick(index + 1)
    end
    spawn({ exe, '-c', PROBE }, function(result)
      local version = python.parse_version(result.stdout)
      if result.code ~= 0 or not version then
        table.insert(tried, name .. ' does not run')
        return pick(index + 1)
      end
      local text = table.concat(version, '.')
      if not python.version_ok(version) then
        table.insert(tried, ('%s is %s'):format(name, text))
        return pick(index + 1)
      end
      if not (result.stdout or ''):find(' venv', 1, true) then
        table.insert(tried, ('%s (%s) has no venv module'):format(name, text))
        no_venv = no_venv or exe
        return pick(index + 1)
      end
      create(exe, text, vim.fn.isdirectory(venv) == 1)
    end)
  end

  -- Again without a Python asked for: upgrade in place while the environment runs.
  local function start()
    if opts.python and opts.python ~= '' or vim.fn.executable(venv_python) ~= 1 then
      return pick(1)
    end
    spawn({ venv_python, '-c', PROBE }, function(result)
      local version = python.parse_version(result.stdout)
      if result.code == 0 and python.version_ok(version) then
        progress(('upgrading %s (Python %s)'):format(vim.fn.fnamemodify(venv, ':~'), table.concat(version, '.')))
        return pip_install()
      end
      pick(1)
    end)
  end

  start()
  return handle
end

--- :LlamaCoderInstall [python]. Headless, it waits, and a failure exits Neovim with 1.
---@param python_arg string|nil
function M.command(python_arg)
  local handle = M.run({ python = python_arg })
  if M.headless() then
    local ok = handle:wait()
    if not ok then
      vim.cmd('cquit 1')
    end
  end
end

--- For a plugin manager's `build` function. lazy.nvim runs it in a coroutine: it yields
--- (progress as a status message) instead of blocking. Returns when done; raises the
--- message on failure.
---@param opts LlamaCoderInstallOpts|nil
function M.build(opts)
  local handle = M.run(opts)
  if coroutine.isyieldable and coroutine.isyieldable() then
    local shown = nil
    while not handle.done do
      -- Each yield resumes on the next tick; a changed step is the task's status line.
      local changed = handle.progress ~= shown
      shown = handle.progress
      coroutine.yield(changed and { msg = shown, level = vim.log.levels.TRACE } or nil)
    end
  else
    handle:wait()
  end
  if not handle.ok then
    error(handle.message or 'llama-coder: install failed', 0)
  end
end

return M
