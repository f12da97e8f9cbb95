-- :checkhealth llama_coder
local M = {}

local HEALTH_WAIT_MS = 8000
local token = 0

---@param python string
---@return table|nil versions, string|nil error
local function python_packages(python)
  local code = table.concat({
    'import sys, importlib.metadata as m',
    'out = [sys.version.split()[0]]',
    'for p in ("pynvim", "httpx", "msgpack", "sniffio"):',
    '    try: out.append(p + " " + m.version(p))',
    '    except Exception: out.append(p + " MISSING")',
    'print("|".join(out))',
  }, '\n')
  local ok, proc = pcall(vim.system, { python, '-c', code }, { text = true })
  if not ok then
    return nil, tostring(proc)
  end
  local result = proc:wait(10000)
  if result.code ~= 0 then
    return nil, (result.stderr or ''):sub(1, 300)
  end
  return vim.split(vim.trim(result.stdout), '|', { plain = true }), nil
end

---@return table|nil report from the engine
local function engine_report()
  local engine = require('llama_coder.engine')
  local bridge = require('llama_coder.bridge')
  token = token + 1
  local mine = token
  require('llama_coder.model').recheck('health') -- a missing model may be there by now
  if not engine.send('llama_coder_health', mine) then
    return nil
  end
  vim.wait(HEALTH_WAIT_MS, function()
    return bridge.health_reports[mine] ~= nil
  end, 20)
  local report = bridge.health_reports[mine]
  bridge.health_reports[mine] = nil
  return report
end

function M.check()
  local h = vim.health
  local config = require('llama_coder.config').current()
  local engine = require('llama_coder.engine')

  h.start('llama-coder: Neovim')
  local v = vim.version()
  local version = ('%d.%d.%d'):format(v.major, v.minor, v.patch)
  if vim.fn.has('nvim-0.10') == 1 then
    h.ok('Neovim ' .. version)
  else
    h.error('Neovim ' .. version .. ' is too old', { 'llama-coder needs Neovim 0.10 or newer' })
  end

  h.start('llama-coder: Python engine')
  local python = engine.python()
  local versions, err = python_packages(python)
  if not versions then
    h.error(('cannot run %s: %s'):format(python, err or '?'), {
      'set `python` in setup() or g:python3_host_prog to a Python 3.10+',
    })
  else
    h.ok(('Python %s at %s'):format(versions[1], python))
    for i = 2, #versions do
      if versions[i]:find('MISSING') then
        h.error(versions[i], { ('%s -m pip install pynvim msgpack httpx sniffio'):format(python) })
      else
        h.ok(versions[i])
      end
    end
  end
  h.info('log file: ' .. engine.log_path())

  local report = versions and engine_report() or nil
  if not report then
    h.error('the engine is not running or did not answer', {
      'see the log file, and the messages of :messages',
    })
    return
  end
  h.ok('engine running (version ' .. (report.version or '?') .. ')')

  h.start('llama-coder: configuration')
  if #(report.problems or {}) == 0 then
    h.ok('configuration valid')
  else
    for _, problem in ipairs(report.problems) do
      h.warn(problem, { 'see :help llama-coder-config' })
    end
  end
  local info = report.info or {}
  h.info(('backend %s at %s'):format(info.backend or '?', info.endpoint or '?'))
  if info.api_key_env and info.api_key_env ~= '' then
    if vim.env[info.api_key_env] and vim.env[info.api_key_env] ~= '' then
      h.ok(('API key variable %s is set'):format(info.api_key_env))
    else
      h.warn(('API key variable %s is not set'):format(info.api_key_env), {
        ('export %s=... before starting Neovim'):format(info.api_key_env),
      })
    end
  end

  h.start('llama-coder: server')
  if report.error then
    h.error(report.error, { 'start the server, or fix `endpoint` and `backend`' })
  elseif report.reachable then
    h.ok(('reachable (%s) in %.0f ms'):format(report.probe or 'ok', report.latency_ms or 0))
  else
    h.error('not reachable: ' .. (report.probe or '?'), { 'start the server, or fix `endpoint`' })
  end
  if report.model_status == 'present' then
    h.ok('model ' .. (info.model or '?') .. ' is on the server')
  elseif report.model_status == 'missing' then
    h.error(report.model_message or 'model missing', { 'pull or load the model, or fix `model`' })
  elseif report.model_status then
    h.warn('cannot tell whether the model is there')
  end
  h.info(('FIM format %s, prompt built by the %s'):format(info.format or '?', info.fim_side or '?'))
  if report.warning and report.warning ~= '' then
    h.warn(report.warning)
  end
  if config.delay < 0 then
    h.info('automatic suggestions are off (delay = -1): use the trigger key')
  end
end

return M
