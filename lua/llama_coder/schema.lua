-- Generated from the Python schema by scripts/gendocs.py; do not edit.
---@class LlamaCoderOption
---@field key string dotted name
---@field kind string
---@field default any
---@field min number|nil
---@field max number|nil
---@field choices string[]|nil
---@field lua boolean|nil only Lua reads it, and Lua reports a bad value

---@type LlamaCoderOption[]
return {
  { key = "backend", kind = "choice", default = "auto", choices = { "auto", "ollama", "openai", "vllm", "llamacpp" } },
  { key = "endpoint", kind = "string", default = "" },
  { key = "model", kind = "string", default = "" },
  { key = "format", kind = "string", default = "auto" },
  { key = "formats", kind = "formats", default = vim.empty_dict() },
  { key = "routes", kind = "routes", default = vim.empty_dict() },
  { key = "fallback", kind = "fallback", default = {  } },
  { key = "fallback_retry", kind = "integer", default = 30000, min = 0 },
  { key = "bearer_token", kind = "string", default = "" },
  { key = "api_key_env", kind = "string", default = "" },
  { key = "max_lines", kind = "integer", default = 16, min = 1 },
  { key = "multiline", kind = "choice", default = "auto", choices = { "auto", "always", "never" } },
  { key = "max_tokens", kind = "integer", default = 256, min = 1 },
  { key = "temperature", kind = "number", default = 0.2, min = 0, max = 2 },
  { key = "alternatives", kind = "integer", default = 3, min = 1, max = 8, lua = true },
  { key = "prefetch", kind = "boolean", default = true },
  { key = "delay", kind = "integer", default = 250, min = -1, max = 5000, lua = true },
  { key = "notebook.include_markup", kind = "boolean", default = true },
  { key = "notebook.include_cell_outputs", kind = "boolean", default = false },
  { key = "notebook.cell_output_limit", kind = "integer", default = 256, min = 0 },
  { key = "context.prefix_lines", kind = "integer", default = 60, min = 0 },
  { key = "context.suffix_lines", kind = "integer", default = 12, min = 0 },
  { key = "context.prefix_chars", kind = "integer", default = 6000, min = 0 },
  { key = "context.suffix_chars", kind = "integer", default = 1500, min = 0 },
  { key = "context.extra_chars", kind = "integer", default = 1500, min = 0 },
  { key = "context.extra_chunks", kind = "integer", default = 16, min = 0 },
  { key = "context.chunk_lines", kind = "integer", default = 32, min = 4 },
  { key = "cache.size", kind = "integer", default = 256, min = 0 },
  { key = "cache.disk", kind = "boolean", default = false },
  { key = "cache.disk_size", kind = "integer", default = 5000, min = 1 },
  { key = "timeout.connect", kind = "integer", default = 3000, min = 1 },
  { key = "timeout.first_chunk", kind = "integer", default = 30000, min = 1 },
  { key = "timeout.total", kind = "integer", default = 60000, min = 1 },
  { key = "timeout.pull_idle", kind = "integer", default = 300000, min = 1 },
  { key = "ollama.keep_alive", kind = "duration", default = "30m" },
  { key = "openai.send_suffix", kind = "boolean", default = false },
  { key = "openai.max_stop", kind = "integer", default = 4, min = 0 },
  { key = "llamacpp.t_max_predict_ms", kind = "integer", default = 1000, min = 0 },
  { key = "tls.ca_bundle", kind = "string", default = "" },
  { key = "keymap.accept", kind = "key", default = "<Tab>", lua = true },
  { key = "keymap.accept_word", kind = "key", default = "<C-Right>", lua = true },
  { key = "keymap.accept_line", kind = "key", default = "<C-Down>", lua = true },
  { key = "keymap.dismiss", kind = "key", default = "<C-]>", lua = true },
  { key = "keymap.next", kind = "key", default = "<M-]>", lua = true },
  { key = "keymap.prev", kind = "key", default = "<M-[>", lua = true },
  { key = "keymap.trigger", kind = "key", default = "<M-\\>", lua = true },
  { key = "filetypes", kind = "filetypes", default = { ["*"] = true, ["help"] = false, ["gitcommit"] = false, ["gitrebase"] = false, ["hgcommit"] = false, ["svn"] = false, ["cvs"] = false, ["TelescopePrompt"] = false, ["TelescopeResults"] = false, ["snacks_picker_input"] = false, ["minifiles"] = false, ["oil"] = false, ["qf"] = false, ["netrw"] = false, ["NvimTree"] = false, ["neo-tree"] = false, ["lazy"] = false, ["mason"] = false, ["checkhealth"] = false, ["dap-repl"] = false, ["noice"] = false, ["."] = false }, lua = true },
  { key = "trigger.min_chars", kind = "integer", default = 1, min = 0, lua = true },
  { key = "ui.hide_during_completion", kind = "boolean", default = true, lua = true },
  { key = "ui.show_info", kind = "boolean", default = false, lua = true },
  { key = "ui.line_by_line", kind = "boolean", default = true },
  { key = "ui.rest_after", kind = "integer", default = 250, min = 0, max = 5000 },
  { key = "ui.show_while_streaming", kind = "boolean", default = false },
  { key = "stats.persist", kind = "boolean", default = true, lua = true },
  { key = "python", kind = "string", default = "", lua = true },
  { key = "log.level", kind = "choice", default = "info", choices = { "debug", "info", "warn", "error" } },
}
