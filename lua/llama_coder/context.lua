-- Context from other buffers: chunks of recently entered, written and yanked-from
-- buffers go to the engine's ring (rplugin/python3/llama_coder/core/context_ring.py).
-- Kept here until the engine runs; never sent on the typing path.
local engine = require('llama_coder.engine')

local M = {}

---@type table[] chunks seen before the engine started, sent once it runs
local pending = {}

--- A file buffer we may read from (not a prompt, terminal, help or scratch buffer).
---@param buf integer
---@return boolean
local function is_file(buf)
  return vim.api.nvim_buf_is_valid(buf) and vim.bo[buf].buftype == '' and vim.api.nvim_buf_get_name(buf) ~= ''
end

--- Send the chunks kept while the engine was not running (it starts on the first
--- Insert mode, after the first buffers were entered).
function M.flush()
  if #pending > 0 and engine.running() then
    for _, chunk in ipairs(pending) do
      engine.send('llama_coder_context', chunk)
    end
    pending = {}
  end
end

--- Queue a chunk (the ring's size at most) and send the queue if the engine runs.
---@param buf integer
---@param lines string[]
local function send(buf, lines)
  table.insert(pending, { path = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(buf), ':.'), lines = lines })
  local keep = require('llama_coder.config').current().context.extra_chunks
  while #pending > keep do
    table.remove(pending, 1)
  end
  M.flush()
end

--- The lines around the cursor of ``buf`` (shown in the current window).
---@param buf integer
---@param size integer
local function around_cursor(buf, size)
  local row = vim.api.nvim_win_get_cursor(0)[1] - 1
  local first = math.max(0, row - math.floor(size / 2))
  send(buf, vim.api.nvim_buf_get_lines(buf, first, first + size, false))
end

---@param group integer
function M.setup(group)
  local config = require('llama_coder.config').current()
  if config.context.extra_chars <= 0 or config.context.extra_chunks <= 0 then
    return
  end
  local size = config.context.chunk_lines
  vim.api.nvim_create_autocmd({ 'BufEnter', 'BufWritePost' }, {
    group = group,
    callback = function(args)
      if is_file(args.buf) and args.buf == vim.api.nvim_get_current_buf() then
        around_cursor(args.buf, size)
      end
    end,
  })
  vim.api.nvim_create_autocmd('TextYankPost', {
    group = group,
    callback = function(args)
      local yanked = vim.v.event.regcontents
      if is_file(args.buf) and type(yanked) == 'table' then
        send(args.buf, vim.list_slice(yanked, 1, size))
      end
    end,
  })
end

return M
