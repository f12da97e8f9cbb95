-- Which Python runs the engine, and what it needs: the runtime requirements (read from
-- pyproject.toml, their one owner), version parsing, and the stamp that
-- :LlamaCoderInstall writes last into the environment it builds.
local M = {}

M.MIN_VERSION = { 3, 10 }
M.STAMP_NAME = 'llama-coder-stamp.json'

---@class LlamaCoderPythonChoice
---@field path string the interpreter to start
---@field source string 'setup' | 'install' | 'host_prog' | 'plugin_venv' | 'path'
---@field note string|nil a problem with the installed environment worth one message

---@class LlamaCoderStamp
---@field requirements string[] what pip installed, as pyproject.toml said then
---@field python string the environment's Python version

---@param text string|nil such as '3.11.2' or 'Python 3.9.18'
---@return integer[]|nil major, minor, patch
function M.parse_version(text)
  local major, minor, patch = tostring(text or ''):match('(%d+)%.(%d+)%.?(%d*)')
  if not major then
    return nil
  end
  return { tonumber(major), tonumber(minor), tonumber(patch) or 0 }
end

---@param version integer[]|nil
---@return boolean true when at least MIN_VERSION
function M.version_ok(version)
  if not version then
    return false
  end
  if version[1] ~= M.MIN_VERSION[1] then
    return version[1] > M.MIN_VERSION[1]
  end
  return version[2] >= M.MIN_VERSION[2]
end

--- The strings of `dependencies = [...]` in the [project] table of a pyproject.toml.
---@param text string the file's text
---@return string[]|nil requirements, string|nil error
function M.parse_requirements(text)
  local in_project, collecting = false, false
  local found = {} ---@type string[]
  for line in (text .. '\n'):gmatch('([^\n]*)\n') do
    local bare = line:gsub('^%s+', '')
    if not collecting then
      local table_name = bare:match('^%[([^%]]+)%]')
      if table_name then
        in_project = table_name == 'project'
      elseif in_project and bare:match('^dependencies%s*=%s*%[') then
        collecting = true
        line = line:gsub('^[^%[]*%[', '')
      end
    end
    if collecting then
      -- Walk the line: strings are requirements, '#' outside one starts a comment,
      -- ']' outside one ends the list.
      local i, n = 1, #line
      while i <= n do
        local c = line:sub(i, i)
        if c == '"' or c == "'" then
          local close = line:find(c, i + 1, true)
          if not close then
            return nil, 'unterminated string in dependencies'
          end
          table.insert(found, line:sub(i + 1, close - 1))
          i = close + 1
        elseif c == '#' then
          break
        elseif c == ']' then
          return found, nil
        else
          i = i + 1
        end
      end
    end
  end
  if collecting then
    return nil, 'dependencies list is not closed'
  end
  return nil, 'no dependencies in [project]'
end

--- 'httpx>=0.27.0' -> 'httpx'
---@param requirement string
---@return string
function M.requirement_name(requirement)
  return (requirement:match('^%s*([%w%._%-]+)') or requirement):lower()
end

---@type string[]|nil
local requirements_cache = nil

--- The engine's runtime requirements, from the plugin's pyproject.toml.
---@return string[]|nil requirements, string|nil error
function M.requirements()
  if requirements_cache then
    return requirements_cache, nil
  end
  local path = M.root() .. '/pyproject.toml'
  local file = io.open(path, 'r')
  if not file then
    return nil, 'cannot read ' .. path
  end
  local text = file:read('*a')
  file:close()
  local found, err = M.parse_requirements(text)
  if not found then
    return nil, path .. ': ' .. err
  end
  requirements_cache = found
  return found, nil
end

---@return string the plugin's root directory
function M.root()
  return require('llama_coder.engine').root()
end

---@return string where :LlamaCoderInstall builds the engine's environment
function M.venv_dir()
  return vim.fn.stdpath('data') .. '/llama-coder/venv'
end

---@param venv string
---@return string the environment's interpreter
function M.venv_python(venv)
  if vim.fn.has('win32') == 1 then
    return venv .. '/Scripts/python.exe'
  end
  return venv .. '/bin/python'
end

---@param venv string
---@return LlamaCoderStamp|nil
function M.read_stamp(venv)
  local file = io.open(venv .. '/' .. M.STAMP_NAME, 'r')
  if not file then
    return nil
  end
  local text = file:read('*a')
  file:close()
  local ok, stamp = pcall(vim.json.decode, text)
  if not ok or type(stamp) ~= 'table' or type(stamp.requirements) ~= 'table' then
    return nil
  end
  return stamp
end

---@param a string[]
---@param b string[]
---@return boolean the same requirements, in any order
local function same_set(a, b)
  if #a ~= #b then
    return false
  end
  local seen = {}
  for _, item in ipairs(a) do
    seen[item] = true
  end
  for _, item in ipairs(b) do
    if not seen[item] then
      return false
    end
  end
  return true
end

---@class LlamaCoderPythonFacts
---@field setting string `python` from setup(), '' when unset
---@field venv_python string the installed environment's interpreter
---@field venv_runs boolean that interpreter is there and executable
---@field stamp LlamaCoderStamp|nil the installed environment's stamp
---@field requirements string[]|nil what pyproject.toml asks for now
---@field host_prog string|nil g:python3_host_prog
---@field own_venv_python string|nil the plugin's own .venv interpreter, when executable

--- The decision alone, for tests: the installed environment counts once its stamp is
--- written; a stamp from other requirements still runs (the packages rarely break),
--- with a note to install again.
---@param facts LlamaCoderPythonFacts
---@return LlamaCoderPythonChoice
function M.choose(facts)
  if facts.setting ~= '' then
    return { path = facts.setting, source = 'setup' }
  end
  local note = nil
  if facts.stamp then
    if facts.venv_runs then
      if facts.requirements and not same_set(facts.stamp.requirements, facts.requirements) then
        note = 'the engine environment was built for other requirements than this version of '
          .. 'the plugin has: run :LlamaCoderInstall to update it'
      end
      return { path = facts.venv_python, source = 'install', note = note }
    end
    note = ('the engine environment no longer runs (%s is gone: was its Python removed or '):format(
      facts.venv_python
    ) .. 'upgraded?): run :LlamaCoderInstall to build it again'
  end
  if type(facts.host_prog) == 'string' and facts.host_prog ~= '' then
    return { path = facts.host_prog, source = 'host_prog', note = note }
  end
  if facts.own_venv_python then
    return { path = facts.own_venv_python, source = 'plugin_venv', note = note }
  end
  return { path = 'python3', source = 'path', note = note }
end

--- The Python the engine runs with (reads two small files; called when the engine starts).
---@return LlamaCoderPythonChoice
function M.engine_python()
  local config = require('llama_coder.config').current()
  local venv = M.venv_dir()
  local venv_python = M.venv_python(venv)
  local own = M.venv_python(M.root() .. '/.venv')
  local host = vim.g.python3_host_prog
  return M.choose({
    setting = config.python ~= '' and vim.fn.expand(config.python) or '',
    venv_python = venv_python,
    venv_runs = vim.fn.executable(venv_python) == 1,
    stamp = M.read_stamp(venv),
    requirements = (M.requirements()),
    host_prog = type(host) == 'string' and host ~= '' and vim.fn.expand(host) or nil,
    own_venv_python = vim.fn.executable(own) == 1 and own or nil,
  })
end

--- How a choice reads in messages and :checkhealth.
---@param source string
---@return string
function M.describe_source(source)
  return ({
    setup = '`python` from setup()',
    install = 'the environment :LlamaCoderInstall built',
    host_prog = 'g:python3_host_prog',
    plugin_venv = "the plugin's own .venv",
    path = 'python3 from PATH',
  })[source] or source
end

return M
