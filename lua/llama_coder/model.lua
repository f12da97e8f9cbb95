-- Llama Coder's model flow: a missing model on a server that can pull is offered for
-- download (Download / Not now / Never); "Never" is remembered across restarts.
local engine = require('llama_coder.engine')

local M = {}

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

---@param payload table model, message
function M.ask(payload)
  local model = payload.model
  if M.never_list()[model] then
    engine.send('llama_coder_pull_answer', model, 'never')
    return
  end
  local choices = { 'Download', 'Not now', 'Never for this model' }
  vim.ui.select(choices, {
    prompt = ('llama-coder: the server has no model %s. Download it?'):format(model),
  }, function(choice)
    local answer = 'not now'
    if choice == choices[1] then
      answer = 'download'
    elseif choice == choices[3] then
      answer = 'never'
      M.remember_never(model)
    end
    engine.send('llama_coder_pull_answer', model, answer)
  end)
end

return M
