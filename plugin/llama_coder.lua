-- Commands and <Plug> maps only; nothing else runs at startup. Call
-- require('llama_coder').setup() to turn suggestions on.
if vim.g.loaded_llama_coder then
  return
end
vim.g.loaded_llama_coder = true

local function api()
  return require('llama_coder')
end

-- name = { callback, description, nargs, completion }
local commands = {
  LlamaCoderPause = {
    function()
      api().pause()
    end,
    'pause automatic suggestions',
  },
  LlamaCoderResume = {
    function()
      api().resume()
    end,
    'resume automatic suggestions',
  },
  LlamaCoderToggle = {
    function()
      api().toggle()
    end,
    'pause or resume',
  },
  LlamaCoderTrigger = {
    function()
      api().trigger()
    end,
    'ask for a suggestion now',
  },
  LlamaCoderStatus = {
    function()
      vim.api.nvim_echo({ { table.concat(api().status_lines(), '\n') } }, false, {})
    end,
    'backend, model, format, state, latency, last error',
  },
  LlamaCoderInstall = {
    function(args)
      require('llama_coder.install').command(args.args ~= '' and args.args or nil)
    end,
    "install or upgrade the engine's Python packages in its own environment",
    '?',
    'file',
  },
  LlamaCoderStats = {
    function(args)
      if args.args == 'reset' then
        require('llama_coder.stats').reset()
        vim.notify('llama-coder: stats cleared', vim.log.levels.INFO)
      else
        require('llama_coder.stats_window').open()
      end
    end,
    'acceptance, latency and server numbers; reset clears the saved totals',
    '?',
    function()
      return { 'reset' }
    end,
  },
}

-- Older than 0.10: every command repeats one line saying so, and nothing else is set up.
local nvim_check = require('llama_coder.nvim_check')
if not nvim_check.supported() then
  for name, command in pairs(commands) do
    vim.cmd(
      ('command! -nargs=%s %s lua require("llama_coder.nvim_check").complain(true)'):format(command[3] or '0', name)
    )
  end
  nvim_check.complain()
  return
end

for name, command in pairs(commands) do
  vim.api.nvim_create_user_command(name, command[1], {
    desc = 'llama-coder: ' .. command[2],
    nargs = command[3] or 0,
    complete = command[4],
  })
end

local plugs = {
  ['<Plug>(llama-coder-accept)'] = 'accept',
  ['<Plug>(llama-coder-accept-word)'] = 'accept_word',
  ['<Plug>(llama-coder-accept-line)'] = 'accept_line',
  ['<Plug>(llama-coder-dismiss)'] = 'dismiss',
  ['<Plug>(llama-coder-trigger)'] = 'trigger',
  ['<Plug>(llama-coder-next)'] = 'next',
  ['<Plug>(llama-coder-prev)'] = 'prev',
}
for lhs, fn in pairs(plugs) do
  vim.keymap.set('i', lhs, function()
    api()[fn]()
  end, { desc = 'llama-coder: ' .. fn:gsub('_', ' ') })
end

require('llama_coder.highlight').watch()
