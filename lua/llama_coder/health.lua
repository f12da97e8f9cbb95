-- :checkhealth llama_coder
local M = {}

local HEALTH_WAIT_MS = 8000
local token = 0

---@param python string
---@param names string[] distribution names
---@return string[]|nil fields 'VERSION', then 'name version' or 'name MISSING' per name; string|nil error
local function python_packages(python, names)
  local script = require('llama_coder.install').PACKAGES_SCRIPT
  local ok, proc = pcall(vim.system, { python, '-c', script, unpack(names) }, { text = true })
  if not ok then
    return nil, tostring(proc)
  end
  local result = proc:wait(10000)
  if result.code ~= 0 then
    return nil, (result.stderr or ''):sub(1, 300)
  end
  return vim.split(vim.trim(result.stdout), '|', { plain = true }), nil
end

--- Python, its version, the environment and each package; false when the engine cannot run.
---@return boolean
local function check_python()
  local h = vim.health
  local py = require('llama_coder.python')
  local choice = py.engine_python()
  local fix = choice.source == 'setup'
      and 'set `python` in setup() to a Python 3.10+ with the packages, or remove it and run :LlamaCoderInstall'
    or 'run :LlamaCoderInstall'
  h.info(('Python: %s (%s)'):format(choice.path, py.describe_source(choice.source)))
  if choice.source == 'install' then
    h.ok('environment: ' .. py.venv_dir())
  else
    h.info(('environment: none built yet (%s would be %s)'):format(':LlamaCoderInstall', py.venv_dir()))
  end
  if choice.note then
    h.warn(choice.note)
  end
  local requirements, req_err = py.requirements()
  if not requirements then
    h.error(req_err or 'no requirements')
    return false
  end
  local names = vim.tbl_map(py.requirement_name, requirements)
  local fields, err = python_packages(choice.path, names)
  if not fields then
    h.error(('cannot run %s: %s'):format(choice.path, err or '?'), { fix })
    return false
  end
  local version = py.parse_version(fields[1])
  if not py.version_ok(version) then
    h.error(('Python %s is too old: the engine needs 3.10 or newer'):format(fields[1]), { fix })
    return false
  end
  h.ok('Python ' .. fields[1])
  local complete = true
  for i = 2, #fields do
    if fields[i]:find('MISSING', 1, true) then
      h.error(fields[i] .. ' (needs ' .. requirements[i - 1] .. ')', { fix })
      complete = false
    else
      h.ok(fields[i])
    end
  end
  return complete
end

--- backend = 'auto': every probe with its answer, what each address turned out to be,
--- and the server chosen or why none was.
---@param detection table the engine's report.detection
local function check_detection(detection)
  local h = vim.health
  h.start('llama-coder: automatic set-up (backend auto)')
  local timeouts = detection.timeouts or {}
  h.info(('probes, all at once (connect timeout %s s, read timeout %s s):'):format(
    tostring(timeouts.connect_s or '?'), tostring(timeouts.read_s or '?')))
  for _, probe in ipairs(detection.probes or {}) do
    h.info(('  %s -> %s (%.0f ms)'):format(probe.url or '?', probe.answer or '?', probe.ms or 0))
  end
  for _, server in ipairs(detection.servers or {}) do
    h.info('server ' .. server)
  end
  if detection.chosen then
    h.ok('chosen: ' .. (detection.summary or '?'))
  else
    h.error(detection.summary or 'no server found', {
      'start a server (ollama serve; llama-server -m MODEL.gguf; ...) and run :checkhealth again',
      'or set `backend` and `endpoint` in setup() (see :help llama-coder-auto)',
    })
  end
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

--- The server the engine uses: reachable, the model there, the FIM format.
---@param report table
---@param info table
local function check_server(report, info)
  local h = vim.health
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
end

function M.check()
  local nvim_check = require('llama_coder.nvim_check')
  if not nvim_check.supported() then -- older Neovims: require('health').report_start, ...
    local old = vim.health or require('health')
    local start, report_error = old.start or old.report_start, old.error or old.report_error
    start('llama-coder: Neovim')
    report_error(nvim_check.message())
    return
  end
  local h = vim.health
  local config = require('llama_coder.config').current()
  local engine = require('llama_coder.engine')

  h.start('llama-coder: Neovim')
  h.ok('Neovim ' .. nvim_check.running_version())

  h.start('llama-coder: Python engine')
  local python_ok = check_python()
  h.info('log file: ' .. engine.log_path())
  if not python_ok then
    return
  end

  local report = engine_report()
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
  local endpoint = info.endpoint
  if endpoint == '' then
    endpoint = '(found automatically)'
  end
  h.info(('backend %s at %s'):format(info.backend or '?', endpoint or '?'))
  if info.api_key_env and info.api_key_env ~= '' then
    if vim.env[info.api_key_env] and vim.env[info.api_key_env] ~= '' then
      h.ok(('API key variable %s is set'):format(info.api_key_env))
    else
      h.warn(('API key variable %s is not set'):format(info.api_key_env), {
        ('export %s=... before starting Neovim'):format(info.api_key_env),
      })
    end
  end

  if report.detection then
    check_detection(report.detection)
  end
  if not report.detection or report.detection.chosen then
    check_server(report, info)
  end
  if config.delay < 0 then
    h.info('automatic suggestions are off (delay = -1): use the trigger key')
  end
end

return M
