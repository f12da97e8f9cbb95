-- Commands and <Plug> maps only; nothing else runs at startup. Call
-- require('llama_coder').setup() to turn suggestions on.
if vim.g.loaded_llama_coder then
  return
end
vim.g.loaded_llama_coder = true

local function api()
  return require('llama_coder')
end

vim.api.nvim_create_user_command('LlamaCoderPause', function()
  api().pause()
end, { desc = 'llama-coder: pause automatic suggestions' })
vim.api.nvim_create_user_command('LlamaCoderResume', function()
  api().resume()
end, { desc = 'llama-coder: resume automatic suggestions' })
vim.api.nvim_create_user_command('LlamaCoderToggle', function()
  api().toggle()
end, { desc = 'llama-coder: pause or resume' })
vim.api.nvim_create_user_command('LlamaCoderTrigger', function()
  api().trigger()
end, { desc = 'llama-coder: ask for a suggestion now' })
vim.api.nvim_create_user_command('LlamaCoderStatus', function()
  vim.api.nvim_echo({ { table.concat(api().status_lines(), '\n') } }, false, {})
end, { desc = 'llama-coder: backend, model, format, state, latency, last error' })

vim.api.nvim_create_user_command('LlamaCoderStats', function(args)
  if args.args == 'reset' then
    require('llama_coder.stats').reset()
    vim.notify('llama-coder: stats cleared', vim.log.levels.INFO)
  else
    require('llama_coder.stats_window').open()
  end
end, {
  nargs = '?',
  complete = function()
    return { 'reset' }
  end,
  desc = 'llama-coder: acceptance, latency and server numbers; reset clears them',
})

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

vim.api.nvim_create_autocmd('ColorScheme', {
  group = vim.api.nvim_create_augroup('llama_coder_highlight', { clear = true }),
  callback = function()
    vim.api.nvim_set_hl(0, 'LlamaCoderSuggestion', { link = 'Comment', default = true })
  end,
})
