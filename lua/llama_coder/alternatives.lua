-- Several suggestions for one place, cycled with keymap.next / keymap.prev. The first
-- press asks the engine for more (``alternatives`` in all, from the same server with
-- other samples, or from the fallback servers: an A/B comparison); each is shown as it
-- arrives. They belong to one place: any change of text or cursor forgets them.
local ghost = require('llama_coder.ghost')
local status = require('llama_coder.status')

local M = {}

---@type string[]
M.list = {}
M.index = 1
---@type table|nil the result they belong to: id, buf, tick, row, col, request
M.key = nil
M.fetching = false
local want_step = 0 -- a press that came before the alternatives did

local function here()
  local k = M.key
  if not k then
    return false
  end
  local buf = vim.api.nvim_get_current_buf()
  local cursor = vim.api.nvim_win_get_cursor(0)
  return buf == k.buf
    and vim.api.nvim_buf_get_changedtick(buf) == k.tick
    and cursor[1] - 1 == k.row
    and cursor[2] == k.col
end

local function show_position()
  status.set_alternatives(#M.list > 1 and ('%d/%d'):format(M.index, #M.list) or nil)
end

--- A first suggestion was shown for ``payload`` (a result of ``request``).
---@param payload table
---@param request table|nil what was sent for it
function M.reset(payload, request)
  M.list = { payload.text }
  M.index = 1
  M.key = { id = payload.id, buf = payload.buf, tick = payload.tick, row = payload.row, col = payload.col, request = request }
  M.fetching = false
  want_step = 0
  show_position()
end

function M.forget()
  if M.key then
    M.key = nil
    M.list = {}
    status.set_alternatives(nil)
  end
end

--- Show the next (step 1) or previous (-1) suggestion; false when there is none to
--- cycle (the key then does what it did before).
---@param step integer
---@return boolean
function M.cycle(step)
  if not ghost.is_visible() or not here() then
    return false
  end
  local config = require('llama_coder.config').current()
  if #M.list == 1 then
    if config.alternatives <= 1 then
      return false
    end
    if not M.fetching and M.key.request then
      M.fetching = true
      local message = vim.deepcopy(M.key.request)
      message.count = config.alternatives
      message.known = M.list
      require('llama_coder.engine').send('llama_coder_alternatives', message)
      status.set_alternatives('1/…')
    end
    want_step = step
    return true
  end
  M.index = (M.index - 1 + step) % #M.list + 1
  ghost.show(M.key.buf, M.key.row, M.key.col, M.list[M.index])
  show_position()
  return true
end

--- One more suggestion from the engine.
---@param payload table
function M.on_alternative(payload)
  if not M.key or payload.id ~= M.key.id or type(payload.text) ~= 'string' then
    return
  end
  if payload.text == '' or vim.tbl_contains(M.list, payload.text) then
    return
  end
  table.insert(M.list, payload.text)
  if want_step ~= 0 and here() and ghost.is_visible() then
    local step = want_step
    want_step = 0
    M.cycle(step)
  else
    show_position()
  end
end

--- The engine has no more to offer.
---@param payload table
function M.on_done(payload)
  if M.key and payload.id == M.key.id then
    M.fetching = false
    want_step = 0
    status.set_alternatives(#M.list > 1 and ('%d/%d'):format(M.index, #M.list) or '1/1')
  end
end

return M
