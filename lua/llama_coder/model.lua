-- Llama Coder's model flow. A model missing on a server that can download it is
-- offered for download (Not now / Download / Never for this model). The question
-- waits until the user is not typing (Normal mode, no pending operator), so typed keys
-- never answer it, and a stray <CR> picks the safe first answer, "Not now". "Never"
-- is remembered across restarts. A model that is missing is checked again when the
-- user comes back to typing after a while, and by :LlamaCoderStatus and :checkhealth.
local engine = require('llama_coder.engine')

local M = {}

M.RECHECK_MS = 60000 -- "after a while": a missing model is checked again this often at most
M.CHOICES = { 'Not now', 'Download', 'Never for this model' }
local ANSWERS = { 'not now', 'download', 'never' }

---@type table<string, table> model -> its ask_pull payload, until the question opens
local pending = {}
local open = false -- a question is on screen
local last_check = nil ---@type integer|nil when the engine last checked (or was asked to)
local group = nil ---@type integer|nil

---@return string
function M.never_file()
  return vim.fn.stdpath('state') .. '/llama-coder/never-pull.json'
end

---@return table<string, boolean>
function M.never_list()
  local fd = io.open(M.never_file(), 'r')
  if not fd then
    return {}
  end
  local text = fd:read('*a')
  fd:close()
  local ok, data = pcall(vim.json.decode, text)
  return ok and type(data) == 'table' and data or {}
end

---@param model string
function M.remember_never(model)
  local list = M.never_list()
  list[model] = true
  vim.fn.mkdir(vim.fn.fnamemodify(M.never_file(), ':h'), 'p')
  local fd = io.open(M.never_file(), 'w')
  if fd then
    fd:write(vim.json.encode(list))
    fd:close()
  end
end

--- Is the user away from the keyboard's typing path (Normal mode, nothing pending)?
---@return boolean
local function idle()
  local mode = vim.api.nvim_get_mode()
  return mode.mode == 'n' and not mode.blocking
end

local function stop_waiting()
  if group then
    pcall(vim.api.nvim_del_augroup_by_id, group)
    group = nil
  end
end

local ask_next

local function wait_for_normal_mode()
  if group then
    return
  end
  group = vim.api.nvim_create_augroup('llama_coder_model_question', { clear = true })
  vim.api.nvim_create_autocmd({ 'InsertLeave', 'CursorHold' }, {
    group = group,
    callback = function()
      vim.schedule(ask_next) -- after the mode change is complete
    end,
  })
end

--- Open the question for one waiting model, if the user is not typing.
ask_next = function()
  if open or next(pending) == nil then
    return
  end
  if not idle() then
    wait_for_normal_mode()
    return
  end
  stop_waiting()
  local model, payload = next(pending)
  pending[model] = nil
  open = true
  local prompt = ('llama-coder: the server has no model %s. Download it?'):format(payload.model)
  vim.ui.select(M.CHOICES, { prompt = prompt }, function(choice)
    open = false
    local answer = 'not now' -- nothing chosen (<Esc>, a stray <CR>) is the safe answer
    for i, item in ipairs(M.CHOICES) do
      if item == choice then
        answer = ANSWERS[i]
      end
    end
    if answer == 'never' then
      M.remember_never(model)
    end
    engine.send('llama_coder_pull_answer', model, answer)
    vim.schedule(ask_next)
  end)
end

--- The engine offers a download (``ask_pull``): asked when the user is not typing.
---@param payload table model, message
function M.ask(payload)
  last_check = vim.uv.now()
  local model = payload.model
  if type(model) ~= 'string' then
    return
  end
  if M.never_list()[model] then
    engine.send('llama_coder_pull_answer', model, 'never')
    return
  end
  pending[model] = payload
  ask_next()
end

--- The model of a waiting question is there after all (pulled in a terminal).
---@param payload table model
function M.found(payload)
  pending[payload.model] = nil
  if next(pending) == nil then
    stop_waiting()
  end
end

--- The engine said a model is missing (it checked just now).
function M.on_missing()
  last_check = vim.uv.now()
end

--- Ask the engine to check missing models again: ``reason`` is 'return' (the user is
--- back to typing), 'status' (:LlamaCoderStatus, which may ask again about a model
--- declined with "Not now") or 'health' (:checkhealth).
---@param reason string
function M.recheck(reason)
  if engine.running() then
    last_check = vim.uv.now()
    engine.send('llama_coder_recheck', reason)
  end
end

--- From the InsertEnter autocmd: the user is back to typing. A model shown as missing
--- is checked again once a while has passed since the last check.
function M.on_insert_enter()
  if require('llama_coder.status').engine.state ~= 'missing' then
    return
  end
  if last_check and vim.uv.now() - last_check < M.RECHECK_MS then
    return
  end
  M.recheck('return')
end

return M
